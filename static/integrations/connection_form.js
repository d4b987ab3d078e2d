// Show the Exchange fields only for an Exchange connection, the Google fields only for Google, and
// the free-form options for the others.
document.addEventListener("DOMContentLoaded", () => {
  const kind = document.getElementById("id_kind");
  if (!kind) return;
  const show = () => {
    const ews = kind.value === "ews";
    const google = kind.value === "google";
    document.querySelectorAll("fieldset.connection-kind-ews").forEach((el) => { el.hidden = !ews; });
    document.querySelectorAll("fieldset.connection-kind-google").forEach((el) => { el.hidden = !google; });
    document.querySelectorAll("fieldset.connection-kind-other").forEach((el) => { el.hidden = ews || google; });
  };
  kind.addEventListener("change", show);
  show();
});
