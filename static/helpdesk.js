// Small page behaviours, here rather than in inline handlers, which the Content-Security-Policy
// (script-src 'self') does not run.
document.addEventListener("focusin", (event) => {
  if (event.target.matches("[data-select-on-focus]")) event.target.select();
});
document.addEventListener("submit", (event) => {
  const question = event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
document.addEventListener("change", (event) => {
  if (event.target.matches("[data-submit-on-change]")) event.target.form.submit();
});
// The top navigation's Menu button on a phone (helpdesk.css hides the links until it is pressed).
document.addEventListener("click", (event) => {
  const toggle = event.target.closest(".menu-toggle");
  if (!toggle) return;
  const open = toggle.closest(".topbar").classList.toggle("open");
  toggle.setAttribute("aria-expanded", String(open));
});
