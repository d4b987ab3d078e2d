// Show the Exchange fields only for an Exchange connection, and the free-form options for the others.
document.addEventListener("DOMContentLoaded", () => {
  const kind = document.getElementById("id_kind");
  if (!kind) return;
  const show = () => {
    const ews = kind.value === "ews";
    document.querySelectorAll("fieldset.connection-kind-ews").forEach((el) => { el.hidden = !ews; });
    document.querySelectorAll("fieldset.connection-kind-other").forEach((el) => { el.hidden = ews; });
  };
  kind.addEventListener("change", show);
  show();
});
