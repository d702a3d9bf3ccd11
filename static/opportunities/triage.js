// Label next shortcuts: 0, 1, 2 label the highlighted task E0, E1, E2 (a click on its button, so htmx
// sends it and swaps in the list without it); j / k move the highlight. The buttons
// work without this file.
function rows() {
  return Array.from(document.querySelectorAll("#label-next tr[data-label-row]"));
}

function select(row) {
  for (const other of rows()) {
    other.classList.remove("selected");
    other.removeAttribute("aria-selected");
  }
  if (!row) return;
  row.classList.add("selected");
  row.setAttribute("aria-selected", "true");
  row.scrollIntoView({ block: "nearest" });
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target.matches("input, textarea, select")) return;
  const all = rows();
  if (!all.length) return;
  const current = all.find((row) => row.classList.contains("selected")) || all[0];
  const index = all.indexOf(current);
  const label = { 0: "E0", 1: "E1", 2: "E2" }[event.key];
  if (label) {
    event.preventDefault();
    current.querySelector(`button[name=label][value=${label}]`)?.click();
  } else if (event.key === "j") {
    event.preventDefault();
    select(all[Math.min(index + 1, all.length - 1)]);
  } else if (event.key === "k") {
    event.preventDefault();
    select(all[Math.max(index - 1, 0)]);
  }
});

// Clicking a row highlights it, so the keys act on the task one is reading.
document.addEventListener("click", (event) => {
  const row = event.target.closest?.("#label-next tr[data-label-row]");
  if (row && !event.target.closest("button, a")) select(row);
});
