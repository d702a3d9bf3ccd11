// Review queue shortcuts: a = accept, m = minor edit, r = reject (each submits), c = comment, e = edit the
// output. In a text box: Esc leaves it; Ctrl+Enter sends a minor edit when the output was changed, and
// otherwise leaves the box so a, m or r can be pressed. The buttons work without this file.
function reviewForm() {
  return document.querySelector("form[data-review]");
}

function submitAs(form, verdict) {
  const button = form.querySelector(`button[name=verdict][value=${verdict}]`);
  if (button) button.click(); // a click, so htmx sends the button's value
}

document.addEventListener("keydown", (event) => {
  const form = reviewForm();
  if (!form) return;
  const target = event.target;
  const typing = target.matches("input[type=text], textarea, select");
  if (typing) {
    if (event.key === "Escape") {
      event.preventDefault();
      target.blur();
    } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      const edit = form.querySelector("textarea[name=edited_text]");
      if (edit && edit.value.trim() !== (edit.dataset.original || "").trim()) {
        submitAs(form, "minor_edit");
      } else {
        target.blur();
      }
    }
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key.toLowerCase();
  if (key === "c" || key === "e") {
    event.preventDefault();
    form.querySelector(key === "c" ? "textarea[name=comment]" : "textarea[name=edited_text]")?.focus();
    return;
  }
  const verdict = { a: "accept", m: "minor_edit", r: "reject" }[key];
  if (!verdict) return;
  event.preventDefault();
  submitAs(form, verdict);
});

