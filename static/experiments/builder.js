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

// Scorer parameters as fields: each scorer row gets inputs for the parameters the chosen scorer declares
// (from the catalogue the page embeds), with their help beside them; what is typed is written as JSON into
// the row's parameters box, which stays the form's value (and the fallback without JavaScript).
(() => {
  const source = document.getElementById("scorer-catalog");
  if (!source) return;
  const catalog = Object.fromEntries(JSON.parse(source.textContent).map((item) => [item.name, item]));

  function readJSON(box) {
    try {
      const value = JSON.parse(box.value || "{}");
      return value && typeof value === "object" && !Array.isArray(value) ? value : {};
    } catch {
      return null; // hand-written JSON that does not parse: leave it for the server to explain
    }
  }

  function inputFor(param, value) {
    let input;
    if (param.kind === "bool") {
      input = document.createElement("input");
      input.type = "checkbox";
      input.checked = value === undefined ? Boolean(param.default) : Boolean(value);
    } else if (param.choices && param.choices.length) {
      input = document.createElement("select");
      for (const choice of param.choices) input.add(new Option(String(choice), String(choice)));
      input.value = String(value ?? param.default ?? param.choices[0]);
    } else if (["str_list", "json", "mapping"].includes(param.kind)) {
      input = document.createElement("textarea");
      input.rows = 2;
      if (param.kind === "str_list") {
        input.value = Array.isArray(value) ? value.join("\n") : value ?? "";
        input.placeholder = "one per line";
      } else {
        input.value = value === undefined ? "" : JSON.stringify(value);
        input.placeholder = "JSON";
      }
    } else {
      input = document.createElement("input");
      input.type = param.kind === "int" || param.kind === "float" ? "number" : "text";
      if (param.kind === "float") input.step = "any";
      input.value = value ?? "";
      if (param.default !== null && param.default !== undefined) input.placeholder = `default ${param.default}`;
    }
    input.dataset.param = param.name;
    input.dataset.kind = param.kind;
    return input;
  }

  function valueOf(input) {
    const kind = input.dataset.kind;
    if (kind === "bool") return input.checked;
    const text = input.value;
    if (text.trim() === "") return undefined;
    if (kind === "int") return parseInt(text, 10);
    if (kind === "float") return parseFloat(text);
    if (kind === "str_list") return text.split("\n").map((s) => s.trim()).filter(Boolean);
    if (kind === "json" || kind === "mapping") {
      try {
        return JSON.parse(text);
      } catch {
        return text; // the server names the parameter and says why
      }
    }
    return text;
  }

  function render(row) {
    const select = row.querySelector("select[name$='-name']");
    const box = row.querySelector("textarea[name$='-params']");
    const holder = row.querySelector("[data-scorer-fields]");
    if (!select || !box || !holder) return;
    holder.replaceChildren();
    const item = catalog[select.value];
    const current = readJSON(box);
    row.querySelector("[data-scorer-json]")?.toggleAttribute("hidden", !select.value || (current !== null && Boolean(item)));
    const threshold = row.querySelector("input[name$='-threshold']");
    if (threshold) threshold.placeholder = item ? `default ${item.default_threshold ?? "none"}` : "";
    if (!item || current === null) return;
    const about = document.createElement("p");
    about.className = "help";
    about.textContent = item.description;
    holder.append(about);
    for (const param of item.params) {
      const id = `${box.id}-${param.name}`;
      const field = document.createElement("div");
      field.className = "field";
      const label = document.createElement("label");
      label.htmlFor = id;
      label.textContent = param.name.replaceAll("_", " ") + (param.required ? " (required)" : "");
      const input = inputFor(param, current[param.name]);
      input.id = id;
      const help = document.createElement("span");
      help.className = "help";
      help.textContent = param.help;
      field.append(label, input, help);
      holder.append(field);
    }
    if (!item.params.length) {
      const none = document.createElement("p");
      none.className = "help";
      none.textContent = "This scorer takes no parameters.";
      holder.append(none);
    }
  }

  function write(row) {
    const box = row.querySelector("textarea[name$='-params']");
    const values = {};
    for (const input of row.querySelectorAll("[data-scorer-fields] [data-param]")) {
      const value = valueOf(input);
      if (value !== undefined) values[input.dataset.param] = value;
    }
    box.value = Object.keys(values).length ? JSON.stringify(values) : "";
  }

  for (const row of document.querySelectorAll("[data-scorer-row]")) render(row);
  document.addEventListener("change", (event) => {
    const row = event.target.closest("[data-scorer-row]");
    if (!row) return;
    if (event.target.matches("select[name$='-name']")) {
      row.querySelector("textarea[name$='-params']").value = "";
      render(row);
    } else if (event.target.closest("[data-scorer-fields]")) {
      write(row);
    }
  });
  document.addEventListener("input", (event) => {
    const row = event.target.closest("[data-scorer-row]");
    if (row && event.target.closest("[data-scorer-fields]")) write(row);
  });
})();
