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
