// The dispatch assistant on the group calendar (issue 15): free slots for the chosen duration
// as a background layer, read from /api/availability/ ("any one" mode, one slot after another).
// Kept apart from calendar.js: loaded before it, it registers one more event source.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("calendar-config").textContent);
  if (!config.freeMinutes || !config.availabilityUrl) return;

  const perResource = config.mode === "group" && config.layout !== "grid";

  // In batches of at most config.maxTechnicians (the API's cap), so every column gets its slots.
  async function freeSlots(info) {
    const ids = (config.resources || []).map((resource) => resource.id);
    const size = config.maxTechnicians || ids.length;
    const batches = [];
    for (let i = 0; i < ids.length; i += size) batches.push(freeSlotsOf(ids.slice(i, i + size), info));
    return (await Promise.all(batches)).flat().map((slot, index) => ({ ...slot, id: `free-${index}` }));
  }

  async function freeSlotsOf(ids, info) {
    const params = new URLSearchParams({
      // Wall-clock times on the user's zone, as calendar.js sends and shows them.
      start: info.startStr,
      end: info.endStr,
      duration: String(config.freeMinutes),
      step: String(config.freeMinutes),
      mode: "any",
      limit: "500",
    });
    ids.forEach((id) => params.append("agent", id));
    const response = await fetch(`${config.availabilityUrl}?${params}`, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) return [];
    const body = await response.json();
    return body.slots.map((slot) => ({
      start: slot.start.slice(0, 19),
      end: slot.end.slice(0, 19),
      display: "background",
      backgroundColor: "#2e9e4f",
      classNames: ["free-slot"],
      resourceIds: perResource ? slot.agents.map(String) : [],
    }));
  }

  window.helpdeskEventSources = [...(window.helpdeskEventSources || []), { events: freeSlots }];
})();
