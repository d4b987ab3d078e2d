// The personal and group calendars: EventCalendar (from npm) reading and writing /api/appointments/.
// The page puts its choices in #calendar-config; every change goes through the API, so the
// server's rules (permissions, validation, planned dates) decide, and a refused change is undone.
// The widget runs on the signed-in user's wall clock (their helpdesk zone, as every page and
// message does), never the browser's: it is given and gives back naive wall-clock times
// ("2026-03-02T09:00:00"), which the server reads on that zone; the widget's own zone
// conversion (to the browser's offset of today, whatever the date) is never used. Nor is the
// browser's clock: the JS Dates the widget's callbacks hand out are made on it, and one cannot
// hold a wall-clock time the browser's zone skips (01:30 on a London browser on the last Sunday
// of March becomes 02:30), so times are read from the widget's strings (startStr, dateStr) or
// worked out from texts we gave it plus the widget's deltas, in UTC fields, never local ones.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("calendar-config").textContent);
  const element = document.getElementById("calendar");
  const messageBox = document.getElementById("calendar-message");
  const phone = window.matchMedia("(max-width: 600px)").matches;

  function say(text, isError) {
    messageBox.textContent = text;
    messageBox.hidden = !text;
    messageBox.classList.toggle("error", Boolean(isError));
  }

  async function api(url, options) {
    const response = await fetch(url, {
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": config.csrfToken, Accept: "application/json" },
      ...options,
    });
    const body = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) {
      const error = new Error(describeError(body) || `The server answered ${response.status}.`);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  function describeError(body) {
    if (!body) return "";
    if (body.detail) return body.detail;
    return Object.entries(body)
      .map(([field, messages]) => `${field}: ${[].concat(messages).join(" ")}`)
      .join(" ");
  }

  // The shown window's parameters (wall-clock texts); other layers may ask with the same.
  function windowParams(start, end) {
    const params = new URLSearchParams({ start, end });
    (config.agents || []).forEach((id) => params.append("agent", id));
    if (config.team) params.set("team", config.team);
    if (config.recurring) params.set("recurring", "true");
    return params;
  }

  // Everything in the window in one answer, without pages (issue 14).
  function queryFor(start, end) {
    return `${config.calendarUrl}?${windowParams(start, end)}`;
  }

  function toEvent(item) {
    const prefix = item.is_recurring ? "\u21bb " : "";
    // An all-day entry is its days, the same in every zone; a timed one its wall clock.
    const days = item.all_day && item.start_date && item.end_date;
    const [start, end] = days ? [item.start_date, item.end_date] : [wallClockOf(item.start), wallClockOf(item.end)];
    return {
      id: String(item.id),
      title: prefix + item.subject,
      start,
      end,
      allDay: item.all_day,
      resourceIds: item.agents.map(String),
      // In one grid, each technician's colour; in their own column the resource colour does it.
      backgroundColor: item.data_unavailable ? "#9aa5b1" : item.colour,
      editable: item.can_edit,
      classNames: [
        ...(item.data_unavailable ? ["entry-unavailable"] : item.is_recurring ? ["entry-recurring"] : []),
        // Shorter than an hour: time and title on one line, so the title shows.
        ...(new Date(item.end) - new Date(item.start) < 60 * 60 * 1000 ? ["entry-short"] : []),
      ],
      // The wall clock it was given: a drop or resize is this plus the widget's delta.
      // canReassign false: the entry stays with its technicians (an imported entry is their own
      // time), so a drag may move it in time but not to another technician (dragConstraint).
      extendedProps: { agents: item.agents, source: item.source, canReassign: item.can_reassign, start, end },
    };
  }

  // Each technician's working hours and public holidays in the shown window, from the server:
  // read on the technician's own wall clock and zone (as the free slots are), sent on the
  // viewer's clock. workingIntervals: {resource id: [[start, end] as wall-clock texts]}, kept
  // for the drop check; daysOff: {resource id: [{start, end, name} as sent]}.
  let workingIntervals = {};
  let daysOff = {};

  // Asked in batches of at most config.maxTechnicians (the API's cap), so a page of more
  // technicians still gets every band; each answer costs the server a fixed number of queries.
  async function loadWorkingHours(start, end) {
    const ids = (config.resources || []).map((resource) => resource.id);
    const batches = [];
    for (let i = 0; i < ids.length; i += config.maxTechnicians || ids.length) {
      const params = new URLSearchParams({ start, end });
      ids.slice(i, i + (config.maxTechnicians || ids.length)).forEach((id) => params.append("agent", id));
      batches.push(api(`${config.workingHoursUrl}?${params}`));
    }
    const found = { hours: {}, daysOff: {} };
    for (const body of await Promise.all(batches)) {
      for (const [id, intervals] of Object.entries(body.agents)) {
        found.hours[id] = intervals.map((interval) => [wallClockOf(interval.start), wallClockOf(interval.end)]);
      }
      Object.assign(found.daysOff, body.days_off);
    }
    return found;
  }

  // "2026-03-02T09:00-05:00" -> "2026-03-02T09:00:00": the wall clock the server wrote it on
  // (the user's zone), which is the widget's. Always to the second, so texts compare as times.
  function wallClockOf(iso) {
    return shifted(iso, {});
  }

  // A wall-clock text plus a widget duration ({years, months, days, seconds}, as its deltas
  // are), as a wall-clock text to the second. Worked in UTC fields, which have no DST gap, so
  // every wall-clock time exists; the widget works its own dates the same way.
  function shifted(text, duration) {
    const [year, month, day, hour, minute, second] = text.match(/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?/)[0].match(/\d+/g).map(Number);
    const moment = Date.UTC(
      year + (duration.years || 0),
      month - 1 + (duration.months || 0),
      day + (duration.days || 0),
      hour || 0,
      minute || 0,
      (second || 0) + (duration.seconds || 0),
    );
    return new Date(moment).toISOString().slice(0, 19);
  }

  // Working hours as a light background, per technician (S2.4); public holidays grey, named.
  function workingHours() {
    const shaded = [];
    const resources = config.resources || [];
    const perResource = config.mode === "group" && config.layout !== "grid";
    const list = perResource ? resources : resources.slice(0, 1);
    for (const resource of list) {
      const resourceIds = perResource ? [String(resource.id)] : [];
      (workingIntervals[String(resource.id)] || []).forEach(([begin, finish], index) =>
        shaded.push({
          start: begin,
          end: finish,
          display: "background",
          backgroundColor: "#c6f0cf",
          classNames: ["working-hours"],
          resourceIds,
          id: `working-${resource.id}-${index}`,
        }),
      );
      // A holiday is the technician's whole day on their clock: the viewer's days when they
      // share the clock (an all-day band, also in the month view), else the hours it covers.
      (daysOff[String(resource.id)] || []).forEach((day) => {
        const [begin, finish] = [wallClockOf(day.start), wallClockOf(day.end)];
        const allDay = begin.endsWith("T00:00:00") && finish.endsWith("T00:00:00");
        shaded.push({
          start: allDay ? begin.slice(0, 10) : begin,
          end: allDay ? finish.slice(0, 10) : finish,
          allDay,
          display: "background",
          backgroundColor: "#d5d9de",
          classNames: ["public-holiday"],
          title: day.name,
          resourceIds,
          id: `holiday-${resource.id}-${begin}`,
        });
      });
    }
    return shaded;
  }

  // A load error stays on screen until a later load works; "Saved." is left alone.
  let loadFailed = false;

  async function loadEvents(info) {
    let items;
    try {
      let working;
      [items, working] = await Promise.all([
        api(queryFor(info.startStr, info.endStr)),
        // Without the hours the entries still show (no band, every drop asks).
        loadWorkingHours(info.startStr, info.endStr).catch(() => ({ hours: {}, daysOff: {} })),
      ]);
      [workingIntervals, daysOff] = [working.hours, working.daysOff];
    } catch (error) {
      loadFailed = true;
      say(`Could not load the calendar: ${error.message}`, true);
      return workingHours();
    }
    if (loadFailed) {
      loadFailed = false;
      say("");
    }
    return items.map(toEvent).concat(workingHours());
  }

  // Dropped on another technician: swap that one for the new one, keep the rest.
  function agentsAfterDrop(info) {
    const agents = new Set(info.event.extendedProps.agents.map(String));
    if (info.oldResource && info.newResource) {
      agents.delete(String(info.oldResource.id));
      agents.add(String(info.newResource.id));
    }
    return [...agents].map(Number);
  }

  // Outside the working hours of a technician it lands on (on that technician's own clock)?
  // Inside means within one of their working intervals from the server, start to end; all
  // wall-clock texts to the second, which compare as the times they name.
  function outOfHours(start, end, agentIds) {
    const resources = (config.resources || []).filter((r) => agentIds.includes(Number(r.id)));
    return resources.filter(
      (resource) =>
        !(workingIntervals[String(resource.id)] || []).some(([begin, finish]) => begin <= start && end <= finish),
    );
  }

  // The entry's new wall-clock times after a drop or resize: the times it was given plus the
  // widget's deltas (the Dates in `info` are on the browser's clock; see the top).
  function movedTimes(info) {
    const { start, end } = info.event.extendedProps;
    return {
      start: shifted(start, info.delta || info.startDelta),
      end: shifted(end, info.delta || info.endDelta),
    };
  }

  // Asked on every step of a drag: a drop on another technician's column or row is allowed only
  // for an entry the user may give to others; the widget keeps the rest where they were. It still
  // calls eventDrop for such a drop (with the other technician as newResource), so that asks too.
  function mayDrop(info) {
    if (!info.newResource || info.event.extendedProps.canReassign) return true;
    say(config.keepsTechniciansMessage, true);
    return false;
  }

  async function save(info, changes) {
    const agentIds = changes.agents || info.event.extendedProps.agents;
    const { start, end } = movedTimes(info);
    const outside = info.event.allDay ? [] : outOfHours(start, end, agentIds);
    if (outside.length && !window.confirm(`Outside the working hours of ${outside.map((r) => r.title).join(", ")}. Save anyway?`)) {
      info.revert();
      say("Not saved.");
      return;
    }
    const send = (body) => api(`${config.appointmentsUrl}${info.event.id}/`, { method: "PATCH", body: JSON.stringify(body) });
    try {
      let item;
      try {
        item = await send(changes);
      } catch (error) {
        // A double booking: the server names it; save only when confirmed.
        if (error.status !== 409 || !window.confirm(`${error.message}`)) throw error;
        item = await send({ ...changes, confirm_overlap: true });
      }
      Object.assign(info.event.extendedProps, { agents: item.agents, ...movedTimes(info) });
      say("Saved.");
      calendar.refetchEvents();
    } catch (error) {
      info.revert();
      say(`Not saved: ${error.message}`, true);
    }
  }

  function openEntry(info) {
    if (info.event.display === "background") return;
    window.location.href = config.detailUrl.replace("{id}", info.event.id);
  }

  function createAt(info) {
    if (!config.canCreate) return;
    // A column the user may not create in (the server's rule, per technician): no form that is refused.
    if (info.resource && info.resource.extendedProps.canCreate === false) return;
    // An hour on the user's clock from the widget's own text of the time clicked.
    const params = new URLSearchParams({ start: info.dateStr, end: shifted(info.dateStr, { seconds: 60 * 60 }) });
    if (info.resource) params.append("agent", info.resource.id);
    else (config.agents || []).forEach((id) => params.append("agent", id));
    window.location.href = `${config.newUrl}?${params}`;
  }

  const options = {
    date: config.date,
    // The user's UTC offset now: "today" and the now line on their clock, not the browser's.
    timeZone: config.utcOffset || "local",
    // A fixed height on phones too: with "auto" the page, not the grid, scrolls, and scrollTime
    // has nothing to scroll, so the day opened at 00:00.
    height: phone ? "max(24rem, calc(100svh - 9rem))" : "calc(100vh - 12rem)",
    nowIndicator: true,
    firstDay: 1,
    locale: document.documentElement.lang || "en-GB",
    eventTimeFormat: { hour: "2-digit", minute: "2-digit", hour12: false },
    slotLabelFormat: { hour: "2-digit", minute: "2-digit", hour12: false },
    // Day and week views open at the earliest working hour shown, not at midnight.
    scrollTime: `${config.scrollTime || "07:00"}:00`,
    editable: false,
    eventStartEditable: true,
    eventDurationEditable: true,
    // Other page scripts (dispatch.js) register their layers before this one runs.
    eventSources: [{ events: loadEvents }, ...(window.helpdeskEventSources || [])],
    dragConstraint: mayDrop,
    eventDrop: (info) => (mayDrop(info) ? save(info, { ...movedTimes(info), agents: agentsAfterDrop(info) }) : info.revert()),
    eventResize: (info) => save(info, movedTimes(info)),
    eventClick: openEntry,
    dateClick: createAt,
    loading: (isLoading) => element.classList.toggle("loading", isLoading),
    buttonText: { today: "Today", dayGridMonth: "Month", timeGridWeek: "Week", timeGridDay: "Day", listWeek: "List" },
  };

  if (config.mode === "group") {
    const minutes = String(config.slotMinutes).padStart(2, "0");
    options.resources = config.resources.map((resource) => ({
      ...resource,
      id: String(resource.id),
      eventBackgroundColor: resource.extendedProps.colour,
    }));
    options.view = "group";
    options.views = { group: { type: `${config.view}Day`, duration: { days: config.days } } };
    options.slotDuration = minutes === "60" ? "01:00" : `00:${minutes}`;
    options.headerToolbar = { start: "prev,next today", center: "title", end: "" };
    options.datesAboveResources = config.days > 1;
    if (config.view === "resourceTimeline") options.slotWidth = 48;
  } else {
    options.view = phone && config.view === "timeGridWeek" ? "timeGridDay" : config.view;
    options.headerToolbar = phone
      ? // The title (the date shown) gets a row of its own on a phone (helpdesk.css).
        { start: "prev,next today", center: "title", end: "timeGridDay,listWeek,dayGridMonth" }
      : { start: "prev,next today", center: "title", end: "timeGridDay,timeGridWeek,dayGridMonth,listWeek" };
  }

  const calendar = EventCalendar.create(element, options);
  window.helpdeskCalendar = calendar;
})();
