// Show the fields of the chosen kind of connection (Exchange, Microsoft 365, Google) and the
// free-form options for the others.
document.addEventListener("DOMContentLoaded", () => {
  const kind = document.getElementById("id_kind");
  if (!kind) return;
  const kinds = ["ews", "graph", "google"];
  const show = () => {
    kinds.forEach((name) => {
      document.querySelectorAll(`fieldset.connection-kind-${name}`).forEach((el) => { el.hidden = kind.value !== name; });
    });
    document.querySelectorAll("fieldset.connection-kind-other").forEach((el) => { el.hidden = kinds.includes(kind.value); });
  };
  kind.addEventListener("change", show);
  show();
});
