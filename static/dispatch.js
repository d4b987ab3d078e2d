// The dispatch assistant on the group calendar (issue 15): free slots for the chosen duration
// as a background layer, read from /api/availability/ ("any one" mode, one slot after another).
// Kept apart from calendar.js: loaded before it, it registers one more event source.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("calendar-config").textContent);
  if (!config.freeMinutes || !config.availabilityUrl) return;

  const perResource = config.mode === "group" && config.layout !== "grid";

  async function freeSlots(info) {
    const params = new URLSearchParams({
      start: info.start.toISOString(),
      end: info.end.toISOString(),
      duration: String(config.freeMinutes),
      step: String(config.freeMinutes),
      mode: "any",
      limit: "500",
    });
    (config.resources || []).forEach((resource) => params.append("agent", resource.id));
    const response = await fetch(`${config.availabilityUrl}?${params}`, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) return [];
    const body = await response.json();
    return body.slots.map((slot, index) => ({
      id: `free-${index}`,
      start: slot.start,
      end: slot.end,
      display: "background",
      backgroundColor: "#2e9e4f",
      classNames: ["free-slot"],
      resourceIds: perResource ? slot.agents.map(String) : [],
    }));
  }

  window.helpdeskEventSources = [...(window.helpdeskEventSources || []), { events: freeSlots }];
})();
