// Show the planned dose and any deviation as the user types. The numbers come from the
// server (infusions:dose_preview, the one dose rule); the page only displays them.
(function () {
  const box = document.getElementById("dose-preview");
  const form = box.closest("form");
  const weight = form.querySelector("[name=dosing_weight_kg]");
  const actual = form.querySelector("[name=actual_cells]");
  const unit = form.querySelector("[name=actual_cells_unit]");
  const full = form.querySelector("[data-role=cells-full]");
  const seen = form.querySelector("[name=planned_cells_seen]");
  const date = form.querySelector("[name=infusion_date]");
  const weights = JSON.parse(document.getElementById("visit-weights").textContent);
  const carried = document.getElementById("weight-carried");
  const show = (role) => box.querySelector(`[data-role=${role}]`);
  let latest = 0;
  let timer = null;

  async function refresh() {
    const request = ++latest;
    if (!weight.value && !actual.value) {
      show("planned").textContent = "—";
      show("deviation").textContent = "—";
      show("warning").classList.add("d-none");
      show("error").classList.add("d-none");
      return;
    }
    const params = new URLSearchParams({
      weight: weight.value,
      actual: actual.value,
      unit: unit ? unit.value : "1",
    });
    if (box.dataset.infusion) params.set("infusion", box.dataset.infusion);
    let data;
    let ok;
    try {
      const response = await fetch(`${box.dataset.url}?${params}`, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      ok = response.ok;
      data = await response.json();
    } catch (e) {
      return; // the server still confirms the dose before it saves
    }
    if (request !== latest) return; // an older answer arriving late
    if (full) full.textContent = data.actual_display || "";
    const error = show("error");
    if (!ok) {
      show("planned").textContent = "—";
      show("deviation").textContent = "—";
      show("warning").classList.add("d-none");
      error.textContent = data.error || "";
      error.classList.toggle("d-none", !data.error);
      return;
    }
    error.classList.add("d-none");
    show("planned").textContent = data.planned_display;
    show("deviation").textContent = data.deviation_pct === null ? "—" : data.deviation_pct;
    const warning = show("warning");
    warning.textContent = data.warning;
    warning.classList.toggle("d-none", !data.deviation);
    if (seen) seen.value = data.planned_cells;
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 200);
  }
  weight.addEventListener("input", () => {
    weight.dataset.carried = "";
    if (carried) carried.classList.add("d-none");
    later();
  });
  actual.addEventListener("input", later);
  if (unit) unit.addEventListener("change", later);

  // The weight measured at a visit held the same day is the dosing weight unless the site
  // weighs again: offer it, say where it comes from, and let the user overwrite it.
  function carryWeight() {
    const same = weights[date.value.trim()];
    if (same && (!weight.value || weight.dataset.carried)) {
      weight.value = same.weight;
      weight.dataset.carried = "1";
      if (carried) {
        carried.textContent = carried.dataset.template
          .replace("%(weight)s", same.weight)
          .replace("%(code)s", same.code)
          .replace("%(date)s", date.value.trim());
        carried.classList.remove("d-none");
      }
      later();
    } else if (!same && weight.dataset.carried) {
      weight.value = "";
      weight.dataset.carried = "";
      if (carried) carried.classList.add("d-none");
      later();
    }
  }
  if (date) {
    date.addEventListener("input", carryWeight);
    date.addEventListener("change", carryWeight);
    if (!weight.value && date.value) carryWeight();
  }

  // On a narrow screen the panel follows the dose fields, not the whole form.
  const column = document.querySelector("[data-role=dose-column]");
  const doseFields = weight.closest("fieldset");
  const narrow = window.matchMedia("(max-width: 767.98px)");
  function place() {
    if (narrow.matches && doseFields) doseFields.after(box);
    else if (column && box.parentElement !== column) column.prepend(box);
  }
  narrow.addEventListener("change", place);
  place();
  if (weight.value || actual.value) refresh();
})();
