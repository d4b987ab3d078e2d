// Small page behaviours, here rather than in inline handlers, which the Content-Security-Policy
// (script-src 'self') does not run.
document.addEventListener("focusin", (event) => {
  if (event.target.matches("[data-select-on-focus]")) event.target.select();
});

// The page's own question dialog (trial: the browser's confirm() looks like a warning from the
// browser, not from the helpdesk, and offers "Prevent this page from creating dialogs"). A <dialog>
// with a heading, the question, optional lines (each a list item) and two buttons; resolves true
// for the confirming button, false for Cancel or Escape. Used for data-confirm forms below and by
// calendar.js for out-of-hours and double-booking drops.
window.helpdeskAsk = function ask({ title, question, lines = [], confirm = "OK", cancel = "Cancel", className = "" }) {
  const dialog = document.createElement("dialog");
  dialog.className = `ask-dialog ${className}`.trim();
  const id = `ask-dialog-${Date.now()}`;
  dialog.setAttribute("aria-labelledby", id);
  const heading = document.createElement("h2");
  heading.id = id;
  heading.textContent = title;
  const lead = document.createElement("p");
  lead.textContent = question;
  dialog.append(heading, lead);
  if (lines.length) {
    const list = document.createElement("ul");
    for (const text of lines) {
      const line = document.createElement("li");
      line.textContent = text;
      list.append(line);
    }
    dialog.append(list);
  }
  const buttons = document.createElement("form");
  buttons.method = "dialog";
  buttons.className = "buttons";
  const yes = document.createElement("button");
  yes.value = "yes";
  yes.textContent = confirm;
  const no = document.createElement("button");
  no.value = "no";
  no.textContent = cancel;
  buttons.append(yes, no);
  dialog.append(buttons);
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "yes");
      dialog.remove();
    });
    dialog.showModal();
    no.focus(); // the safe answer under Enter
  });
};

// A form with data-confirm asks in the page first; once confirmed it is sent as the button pressed
// would have sent it.
document.addEventListener("submit", async (event) => {
  const form = event.target;
  const question = form.dataset.confirm;
  if (!question || form.dataset.confirmed === "yes") return;
  event.preventDefault();
  const submitter = event.submitter;
  const label = (submitter && submitter.textContent.trim()) || "OK";
  if (!(await window.helpdeskAsk({ title: "Please confirm", question, confirm: label }))) return;
  form.dataset.confirmed = "yes";
  form.requestSubmit(submitter && submitter.form === form ? submitter : undefined);
  delete form.dataset.confirmed;
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

// An entry form's "All day" shows First day and Last day in place of Start and End, and back
// (calendars.forms.AppointmentForm marks them): the hidden fields keep their values, so unticking
// brings the times back as they were. Without this script all four show; the server reads the
// ones the box asks for.
function showWhenFields(box) {
  const shown = box.checked ? "days" : "timed";
  for (const input of box.form.querySelectorAll("[data-shown-when]")) {
    input.closest("form > div").hidden = input.dataset.shownWhen !== shown;
  }
}
document.addEventListener("change", (event) => {
  if (event.target.matches("input[data-all-day]")) showWhenFields(event.target);
});
document.querySelectorAll("input[data-all-day]").forEach(showWhenFields);
