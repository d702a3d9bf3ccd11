// Review queue shortcuts: a = accept, m = minor edit, r = reject (each submits), c = comment.
// Ignored while typing in a field; the buttons work without this file.
document.addEventListener("keydown", (event) => {
  const form = document.querySelector("form[data-review]");
  if (!form || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target.matches("input[type=text], textarea, select")) return;
  const verdicts = { a: "accept", m: "minor_edit", r: "reject" };
  const key = event.key.toLowerCase();
  if (key === "c") {
    event.preventDefault();
    form.querySelector("textarea")?.focus();
    return;
  }
  const verdict = verdicts[key];
  if (!verdict) return;
  event.preventDefault();
  const button = form.querySelector(`button[name=verdict][value=${verdict}]`);
  if (button) button.click(); // a click, so htmx sends the button's value
});
