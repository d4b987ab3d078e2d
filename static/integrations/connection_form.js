// Show the Exchange fields only for an Exchange connection, the Microsoft 365 ones for Graph, and the
// free-form options for the others.
document.addEventListener("DOMContentLoaded", () => {
  const kind = document.getElementById("id_kind");
  if (!kind) return;
  const show = () => {
    const ews = kind.value === "ews";
    const graph = kind.value === "graph";
    document.querySelectorAll("fieldset.connection-kind-ews").forEach((el) => { el.hidden = !ews; });
    document.querySelectorAll("fieldset.connection-kind-graph").forEach((el) => { el.hidden = !graph; });
    document.querySelectorAll("fieldset.connection-kind-other").forEach((el) => { el.hidden = ews || graph; });
  };
  kind.addEventListener("change", show);
  show();
});
