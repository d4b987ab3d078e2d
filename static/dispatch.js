// The dispatch assistant on the group calendar (issue 15): the free windows that hold the chosen
// duration, as a background layer, read from /api/availability/ ("any one" mode).
// Kept apart from calendar.js: loaded before it, it registers one more event source.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("calendar-config").textContent);
  if (!config.freeMinutes || !config.availabilityUrl) return;

  const perResource = config.mode === "group" && config.layout !== "grid";
  // Starts are asked on the grid the user sees (the slot interval), not on a grid of the
  // duration from midnight: 90-minute starts at 00:00, 01:30 ... would skip a technician free
  // from 08:00 until 09:00 and one free from 10:00 until 10:30.
  const step = Math.min(config.slotMinutes || 30, config.freeMinutes);

  // In batches of at most config.maxTechnicians (the API's cap), so every column gets its slots.
  async function freeSlots(info) {
    const ids = (config.resources || []).map((resource) => resource.id);
    const size = config.maxTechnicians || ids.length;
    const batches = [];
    // The failures of this load's batches, said once for all of them.
    const problems = [];
    for (let i = 0; i < ids.length; i += size) batches.push(freeSlotsOf(ids.slice(i, i + size), info, problems));
    const found = (await Promise.all(batches)).flat().map((slot, index) => ({ ...slot, id: `free-${index}` }));
    // calendar.js keeps this source's failure on screen until a load of it works.
    const detail = { source: "free-time", message: problems[0] || null };
    document.dispatchEvent(new CustomEvent("helpdesk:load-error", { detail }));
    return found;
  }

  // The most slots one answer holds (the API's cap on `limit`).
  const LIMIT = 500;

  // Every free slot of these technicians in the window: a full answer is followed by another
  // from the step after its last slot (an instant on the same grid), until one is not full.
  async function freeSlotsOf(ids, info, problems) {
    const found = [];
    // Wall-clock times on the user's zone, as calendar.js sends and shows them.
    let start = info.startStr;
    for (;;) {
      const params = new URLSearchParams({
        start,
        end: info.endStr,
        duration: String(config.freeMinutes),
        step: String(step),
        mode: "any",
        limit: String(LIMIT),
      });
      ids.forEach((id) => params.append("agent", id));
      const response = await fetch(`${config.availabilityUrl}?${params}`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) {
        // "No free time" and "could not ask" must not look the same: calendar.js shows this.
        const message = `Could not load the free time (${response.status}): the free slots shown may be incomplete.`;
        problems.push(message);
        break;
      }
      const slots = (await response.json()).slots;
      found.push(...slots);
      if (slots.length < LIMIT) break;
      start = new Date(Date.parse(slots[slots.length - 1].start) + step * 60 * 1000).toISOString();
    }
    return windows(found).map((slot) => ({
      start: slot.start,
      end: slot.end,
      display: "background",
      backgroundColor: "#2e9e4f",
      classNames: ["free-slot"],
      resourceIds: slot.agents.map(String),
    }));
  }

  // The free windows the slots make, per technician (or for anyone, in one grid): slots that
  // overlap or touch are one window, from the first's start to the last's end, so a window is
  // shaded whole, as long as it is (at least the duration), as Outlook's Scheduling Assistant
  // shows free time. Back-to-back blocks of the duration showed a 2-hour window as 90 minutes
  // dark and 30 light, as if its end were no use (trial F9). Compared as instants (the answer's
  // times carry their offsets); shown as the wall clock they were written on, the widget's.
  function windows(slots) {
    const open = new Map();
    const shown = [];
    const sorted = [...slots].sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
    for (const slot of sorted) {
      for (const key of perResource ? slot.agents.map(String) : ["anyone"]) {
        const current = open.get(key);
        if (current && Date.parse(slot.start) <= Date.parse(current.until)) {
          if (Date.parse(slot.end) > Date.parse(current.until)) current.until = slot.end;
          continue;
        }
        const made = { from: slot.start, until: slot.end, agents: perResource ? [key] : [] };
        open.set(key, made);
        shown.push(made);
      }
    }
    return shown.map((found) => ({ start: found.from.slice(0, 19), end: found.until.slice(0, 19), agents: found.agents }));
  }

  window.helpdeskEventSources = [...(window.helpdeskEventSources || []), { events: freeSlots }];
})();
