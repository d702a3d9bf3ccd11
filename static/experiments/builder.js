// Parameter-set presets in the experiment builder: a button fills its set's fields (those it names; the
// others it names as "" are cleared) and tells the form something changed, so the estimate updates.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-preset]");
  if (!button) return;
  const set = button.closest("[data-param-set]");
  if (!set) return;
  const values = JSON.parse(button.dataset.preset);
  for (const [name, value] of Object.entries(values)) {
    const input = set.querySelector(`input[name$="-${name}"]`);
    if (input) input.value = value;
  }
  const label = set.querySelector('input[name$="-label"]');
  if (label && !label.value) label.value = button.textContent.trim().toLowerCase();
  set.closest("form")?.dispatchEvent(new Event("change", { bubbles: true }));
});
