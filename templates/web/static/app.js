// duban web: small progressive enhancements; every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
  }
  for (const box of document.querySelectorAll("input[data-check-all]")) {
    const name = box.getAttribute("data-check-all");
    box.addEventListener("change", () => {
      for (const other of box.form.querySelectorAll(`input[type=checkbox][name="${name}"]`)) {
        other.checked = box.checked;
      }
    });
  }
  // Secondary filters start unfolded on a wide screen and folded on a phone.
  if (window.matchMedia("(min-width: 761px)").matches) {
    for (const details of document.querySelectorAll("details[data-open-wide]")) details.open = true;
  }
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  }
  // A required field left empty: the browser refuses before sending (so nothing typed or
  // chosen is lost), and says so in Chinese whatever its own language.
  for (const field of document.querySelectorAll("input[required], select[required], textarea[required]")) {
    const missing = field.getAttribute("data-missing") ||
      (field.type === "file" ? "请选择文件" : field.tagName === "SELECT" ? "请选择此项" : "请填写此项");
    field.addEventListener("invalid", () => {
      if (field.validity.valueMissing) field.setCustomValidity(missing);
    });
    const clear = () => field.setCustomValidity("");
    field.addEventListener("input", clear);
    field.addEventListener("change", clear);
  }
  // The plan editor: a rule or a field typed into its table can be chosen in the conditions'
  // table at once, before the section is saved (the server reads both tables in one save).
  const conditions = document.querySelector("table[data-part='detection.rules.when']");
  const offer = (source, column, valueOf) => {
    const table = document.querySelector(`table[data-part='${source}']`);
    if (!conditions || !table) return;
    const refresh = () => {
      const typed = new Map();
      for (const row of table.querySelectorAll("tbody tr")) {
        const gone = row.querySelector("input[name$='._delete']");
        const entry = gone && gone.checked ? null : valueOf(row);
        if (entry && !typed.has(entry[0])) typed.set(entry[0], entry[1]);
      }
      for (const select of conditions.querySelectorAll(`select[name$='.${column}']`)) {
        for (const option of [...select.options]) {
          // An option added here earlier whose row changed since: gone unless still chosen.
          if (option.dataset.typed && !typed.has(option.value) && !option.selected) option.remove();
        }
        for (const [value, label] of typed) {
          const option = [...select.options].find((o) => o.value === value);
          if (!option) {
            const added = new Option(label, value);
            added.dataset.typed = "1";
            select.add(added);
          } else if (option.dataset.typed) {
            option.text = label;
          }
        }
      }
    };
    table.addEventListener("input", refresh);
    table.addEventListener("change", refresh);
  };
  const cell = (row, key) => {
    const field = row.querySelector(`[name$='.${key}']`);
    return field ? field.value.trim() : "";
  };
  offer("detection.rules", "rule", (row) => {
    const code = cell(row, "code");
    return code ? [code, cell(row, "name") || code] : null;
  });
  offer("household.fields", "field", (row) => {
    const label = cell(row, "label");
    return label ? [cell(row, "key") || label, label] : null;
  });
  // Each condition row shows only the cells its test reads (取值, 数值, or 比较日 and 日期).
  if (conditions) {
    const reads = {
      values: ["", "is", "is_not", "has", "lacks"], number: ["below", "at_least"],
      against: ["before", "not_before"], date: ["before", "not_before"],
    };
    const fit = (row) => {
      const test = row.querySelector("select[name$='.test']");
      const against = row.querySelector("select[name$='.against']");
      if (!test) return;
      for (const [key, tests] of Object.entries(reads)) {
        const field = row.querySelector(`[name$='.${key}']`);
        if (!field) continue;
        const shown = tests.includes(test.value) &&
          !(key === "date" && against && against.value === "检查日");
        // A cell with something in it stays in sight, so nothing sent is out of view.
        field.closest("td").classList.toggle("idle", !shown && !field.value);
      }
    };
    for (const row of conditions.querySelectorAll("tbody tr")) {
      fit(row);
      row.addEventListener("change", () => fit(row));
    }
  }
  // A second click on a submit button while the first request runs would send it twice.
  for (const form of document.querySelectorAll("form[method=post]")) {
    form.addEventListener("submit", (event) => {
      if (event.defaultPrevented) return;
      for (const button of form.querySelectorAll("button[type=submit]")) {
        setTimeout(() => { button.disabled = true; }, 0);
      }
    });
  }
});
