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
// The entries' time labels too (the widget's own go through such a Date), a drag preview's from
// the widget's deltas (see recordStep). Nothing saved is ever read off a Date.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("calendar-config").textContent);
  const words = config.conflictWords; // the question before a save that double-books (calendars.conflict_words)
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
      error.body = body;
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

  // Policy Ask (trial F4): whose external calendar it is not on because they have not approved
  // it yet, or declined it; shown under the title, where a coordinator plans.
  function approvalText(item) {
    const names = new Map((config.resources || []).map((resource) => [String(resource.id), resource.title]));
    const who = (state) =>
      (item.external_calendars || [])
        .filter((entry) => entry.state === state)
        .map((entry) => names.get(String(entry.agent)) || "a technician");
    const parts = [];
    const waiting = who("waiting");
    if (waiting.length) parts.push(`Awaiting approval: ${waiting.join(", ")}`);
    const declined = who("declined");
    if (declined.length) parts.push(`Declined: ${declined.join(", ")}`);
    return parts.join(" \u00b7 ");
  }

  function toEvent(item) {
    const prefix = item.is_recurring ? "\u21bb " : "";
    // An all-day entry is its days, the same in every zone; a timed one its wall clock.
    const days = item.all_day && item.start_date && item.end_date;
    const [start, end] = days ? [item.start_date, item.end_date] : [wallClockOf(item.start), wallClockOf(item.end)];
    const approval = approvalText(item);
    return {
      id: String(item.id),
      // The API's title: an action's entry reads "Work logged: ..." apart from the planned request.
      title: prefix + item.title,
      start,
      end: days ? end : drawnEnd(start, end),
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
      // The wall clock it was given: a drop or resize is this plus the widget's delta; and its
      // exact length in milliseconds (the API's times carry their offsets), which a drag keeps.
      // canReassign false: the entry stays with its technicians (an imported entry is their own
      // time), so a drag may move it in time but not to another technician (dragConstraint).
      extendedProps: {
        agents: item.agents,
        // Busy time the server counts as an overlap (a cancelled occurrence or a free entry is none).
        busy: item.busy && !item.is_cancelled,
        source: item.source,
        canReassign: item.can_reassign,
        approval,
        start,
        end,
        length: new Date(item.end) - new Date(item.start),
        // Shown on hover (eventDidMount), for entries too narrow for their label: the times and
        // the subject; an imported private entry only its times and "Busy" (S2.5).
        // With the technicians' answers, which a narrow entry cuts short.
        tooltip: [
          `${spanLabel(start, end, days)} \u00b7 ${item.data_unavailable ? "Busy" : prefix + item.title}`,
          approvalText(item),
        ]
          .filter(Boolean)
          .join("\n"),
      },
    };
  }

  // In the time grids an entry is drawn at least READABLE_MINUTES long (not past its day's end),
  // so its one-line label can be read, and the widget, which lays entries side by side by the
  // times it is given, puts a short entry beside the next one instead of under it (trial 12), as
  // Google Calendar and Outlook draw short entries. Only the drawing: saves and labels use the
  // entry's own times (extendedProps), a resize the drawn end's delta added to the real end.
  const READABLE_MINUTES = 30;
  const drawsLonger = !(config.mode === "group" && config.view === "resourceTimeline");

  function drawnEnd(start, end) {
    if (!drawsLonger) return end;
    const readable = shifted(start, { seconds: READABLE_MINUTES * 60 });
    const dayEnd = shifted(`${start.slice(0, 10)}T00:00:00`, { days: 1 });
    const least = readable < dayEnd ? readable : dayEnd;
    return end < least ? least : end;
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

  // The user's zone's rules, from the browser's own zone database (Intl), never its clock.
  const zoneFields = new Intl.DateTimeFormat("en-GB", {
    timeZone: config.timeZone || "UTC",
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });

  // An instant (ms since the epoch) as a wall-clock text on the user's clock.
  function wallClockAt(moment) {
    const part = Object.fromEntries(zoneFields.formatToParts(new Date(moment)).map((p) => [p.type, p.value]));
    return `${part.year}-${part.month}-${part.day}T${part.hour}:${part.minute}:${part.second}`;
  }

  // A wall-clock text on the user's clock as an instant (ms), as the server reads it (RFC 5545
  // 3.3.5): a time the clocks skip with the offset before the gap, one they repeat the first.
  function instantOf(text) {
    const asUtc = Date.parse(`${text}Z`);
    const offsetAt = (moment) => Date.parse(`${wallClockAt(moment)}Z`) - moment;
    // No zone changes its offset twice within a day, so these are the offsets around the text.
    const before = offsetAt(asUtc - 864e5);
    const after = offsetAt(asUtc + 864e5);
    const fits = [asUtc - before, asUtc - after].filter((moment) => wallClockAt(moment) === text);
    return fits.length ? Math.min(...fits) : asUtc - before;
  }

  // Labels: from wall-clock texts, written on a UTC clock (which skips no time). The widget's own
  // labels go through a browser Date, and one cannot hold a time the browser's zone skips: on a
  // London browser 01:30 on the last Sunday of March was labelled 02:30.
  const labelOptions = { hour: "2-digit", minute: "2-digit", timeZone: "UTC" };
  const labelFormat = new Intl.DateTimeFormat(document.documentElement.lang || "en-GB", { ...labelOptions, hour12: false });
  // The end of a day is 24:00 (ISO 8601 4.2.3), as a day's part of an entry over midnight ends.
  const dayEndFormat = new Intl.DateTimeFormat(document.documentElement.lang || "en-GB", { ...labelOptions, hourCycle: "h24" });
  const onUtcClock = (text) => new Date(`${text}Z`);

  // A label of wall-clock texts on one day; `end` may be the next midnight (24:00).
  function timeLabel(start, end) {
    if (!end || end === start) return labelFormat.format(onUtcClock(start));
    const [from, to] = [onUtcClock(start), onUtcClock(end)];
    if (end.slice(0, 10) > start.slice(0, 10)) return `${labelFormat.format(from)}\u2013${dayEndFormat.format(to)}`;
    return labelFormat.formatRange(from, to);
  }

  // An entry's whole span for its tooltip: "09:00–10:30" on one day, else with the days
  // ("Mon 7 Dec 22:00 – Tue 8 Dec 02:00"); an all-day entry its days (`end` is the day after).
  const dayFormat = new Intl.DateTimeFormat(document.documentElement.lang || "en-GB", {
    weekday: "short",
    day: "numeric",
    month: "short",
    timeZone: "UTC",
  });
  function spanLabel(start, end, allDay) {
    if (allDay) {
      const last = shifted(end, { days: -1 });
      const first = dayFormat.format(onUtcClock(`${start.slice(0, 10)}T00:00:00`));
      return last.slice(0, 10) <= start.slice(0, 10) ? first : `${first} \u2013 ${dayFormat.format(onUtcClock(last))}`;
    }
    const overMidnight = end.slice(0, 10) > start.slice(0, 10) && !(end.endsWith("T00:00:00") && end.slice(0, 10) === shifted(start, { days: 1 }).slice(0, 10));
    if (!overMidnight) return timeLabel(start, end);
    const at = (text) => `${dayFormat.format(onUtcClock(text))} ${labelFormat.format(onUtcClock(text))}`;
    return `${at(start)} \u2013 ${at(end)}`;
  }

  // The widget cuts an entry over midnight into one part per day in its time grids and hands each
  // part's times to eventTimeFormat (in its list view too), whose answer eventContent gets as
  // timeText; but as browser Dates (see the top). Their day is sound (zones skip an hour inside
  // a day, so a skipped time moves within it), so the format answers only the part's day, and
  // the label is cut from our exact texts.
  const partDay = (start) =>
    `${start.getFullYear()}-${String(start.getMonth() + 1).padStart(2, "0")}-${String(start.getDate()).padStart(2, "0")}`;

  // The wall-clock texts of the entry being dragged or resized, on the widget's last step: the
  // texts it was given plus the step's delta, worked as the widget works its own dates (in UTC
  // fields), so in the browser's DST gap too. The preview's Dates cannot tell 01:15 from 02:15 there.
  let preview = null;

  function recordStep(info) {
    const { start, end } = info.event.extendedProps;
    if (start === undefined) return;
    const [startDelta, endDelta] = info.delta ? [info.delta, info.delta] : [info.startDelta, info.endDelta];
    preview = { id: info.event.id, start: shifted(start, startDelta), end: shifted(end, endDelta) };
  }

  // The label of an entry's part on one day: from the texts we gave it (or its preview's), cut at
  // that day's midnights, as Outlook and Google Calendar label each day of an entry over midnight.
  function entryLabel(info) {
    const own = info.event.extendedProps;
    const { start, end } = info.event.display === "preview" && preview && preview.id === info.event.id ? preview : own;
    // The widget's month and timeline views show only the start.
    const withEnd = !/^(dayGrid|resourceTimeline)/.test(info.view.type === "group" ? config.view : info.view.type);
    if (!withEnd || !/^\d{4}-\d{2}-\d{2}$/.test(info.timeText)) return timeLabel(start);
    const dayStart = `${info.timeText}T00:00:00`;
    const dayEnd = shifted(dayStart, { days: 1 });
    return timeLabel(start > dayStart ? start : dayStart, end < dayEnd ? end : dayEnd);
  }

  // What an entry too narrow for its subject shows in the rows layout (helpdesk.css decides when,
  // by the entry's width): a request's number ("#36"), else the subject's first word, cut to a
  // few letters; never the "#…" or "↻ 0" of a label cut by the widget (trial fault 15).
  // The whole subject and times stay in the hover text (eventDidMount).
  function shortLabel(title) {
    const text = title.replace(/^\u21bb /, "").trim();
    const number = text.match(/^#\d+/);
    if (number) return number[0];
    const word = text.split(/\s+/)[0] || text;
    return word.length > 6 ? `${word.slice(0, 5)}\u2026` : word;
  }

  function entryContent(info) {
    if (info.event.display === "background" || info.event.allDay) return undefined;
    const title = document.createElement("h4");
    title.className = "ec-event-title";
    const full = document.createElement("span");
    full.className = "label-full";
    full.textContent = info.event.title;
    const short = document.createElement("span");
    short.className = "label-short";
    short.setAttribute("aria-hidden", "true");
    short.textContent = shortLabel(info.event.title);
    title.append(full, short);
    // Not one of ours (another layer's): no wall-clock texts to label it from, and the widget's
    // timeText is only a day (eventTimeFormat).
    if (info.event.extendedProps.start === undefined) return { domNodes: [title] };
    const time = document.createElement("time");
    time.className = "ec-event-time";
    time.textContent = entryLabel(info);
    // The time and, when there is one, the technicians' answer (policy Ask) share one line, so
    // the answer never takes the subject's room: in a one-hour entry it covered the subject.
    // Cut short on a narrow entry; the tooltip has it whole (helpdesk.css orders the lines).
    const meta = document.createElement("div");
    meta.className = "ec-event-meta";
    meta.append(time);
    if (info.event.extendedProps.approval) {
      const approval = document.createElement("small");
      approval.className = "ec-event-approval";
      approval.textContent = info.event.extendedProps.approval;
      meta.append(approval);
    }
    return { domNodes: [meta, title] };
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

  // Technicians as rows (a timeline): every day shows the same hours, the shown technicians'
  // working-hours window on the viewer's clock (from the earliest start to the latest end of
  // their working intervals in the window), widened to whole hours and to any entry outside it,
  // so nothing is hidden; and the slots are as wide as lets the days fit the screen, or, when
  // that would cut entries unreadably narrow, the grid scrolls sideways (MIN_HOUR_WIDTH). Nights drawn
  // in full made a week about 8,000 px wide (trial F16); the widget's own flexibleSlotTimeLimits
  // would widen only the days with an entry outside the hours, so days would differ.
  const rows = config.mode === "group" && config.view === "resourceTimeline";
  // The narrowest hour (px), below which the timeline scrolls sideways rather than squeeze: a
  // one-hour entry still shows the start of its subject (at 20 px, a week of rows cut every
  // entry to a chip of a digit or two); the widest slot; the room a slot label ("08:00") needs.
  const MIN_HOUR_WIDTH = 56;
  const MAX_SLOT_WIDTH = 160;
  const LABEL_WIDTH = 40;

  // Minutes after the midnight of the day a wall-clock text is on.
  const minuteOfDay = (text) => Number(text.slice(11, 13)) * 60 + Number(text.slice(14, 16));

  // [first, last] minute of the day to show for these wall-clock spans ([start, end] texts),
  // on whole hours; the whole day for a span over midnight or when there is none.
  function hoursWindow(spans) {
    let [first, last] = [Infinity, -Infinity];
    for (const [start, end] of spans) {
      const nextMidnight = `${shifted(start.slice(0, 10), { days: 1 }).slice(0, 10)}T00:00:00`;
      if (end > nextMidnight) return [0, 24 * 60];
      first = Math.min(first, minuteOfDay(start));
      last = Math.max(last, end === nextMidnight ? 24 * 60 : minuteOfDay(end));
    }
    if (first >= last) return [0, 24 * 60];
    return [Math.floor(first / 60) * 60, Math.ceil(last / 60) * 60];
  }

  const hhmm = (minutes) => `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`;

  // What the timeline was last given, so an unchanged fit sets nothing (setOption re-renders).
  const fitted = {};

  // Sets the rows' hours, slot width and label spacing for the entries just loaded (timed ones:
  // [start, end] wall-clock texts) and the working hours of the shown window.
  function fitRows(entrySpans) {
    if (!rows) return;
    const working = Object.values(workingIntervals).flat();
    const [first, last] = hoursWindow(working.length ? working.concat(entrySpans) : []);
    const main = element.querySelector(".ec-main");
    const sidebar = element.querySelector(".ec-body .ec-sidebar");
    const slots = (config.days * (last - first)) / config.slotMinutes;
    const room = main && sidebar ? main.clientWidth - sidebar.offsetWidth - 1 : 0;
    const narrowest = (MIN_HOUR_WIDTH * config.slotMinutes) / 60;
    const slotWidth = Math.max(Math.ceil(narrowest), Math.min(MAX_SLOT_WIDTH, Math.floor(room / slots)));
    // A label every so many slots: the shortest spacing of at least LABEL_WIDTH px among the
    // slot, whole multiples of it and whole hours, one that divides the day shown if it can
    // (else the day's last label is cut short).
    const spacings = [1, 2, 3, 4, 6]
      .map((n) => n * config.slotMinutes)
      .concat([60, 120, 180, 240, 300, 360, 720])
      .filter((minutes) => minutes % config.slotMinutes === 0 && (minutes / config.slotMinutes) * slotWidth >= LABEL_WIDTH)
      .sort((a, b) => a - b);
    const label = spacings.find((minutes) => (last - first) % minutes === 0) || spacings[0] || 720;
    const wanted = {
      slotMinTime: `${hhmm(first)}:00`,
      slotMaxTime: `${hhmm(last)}:00`,
      slotWidth,
      slotLabelInterval: `${hhmm(label)}:00`,
      scrollTime: `${hhmm(first)}:00`,
    };
    for (const [name, value] of Object.entries(wanted)) {
      if (fitted[name] === value) continue;
      fitted[name] = value;
      calendar.setOption(name, value);
    }
  }

  // The spans fitRows last had, to fit again when the widget changes width.
  let lastSpans = [];
  if (rows && window.ResizeObserver) {
    let width = 0;
    new ResizeObserver(([entry]) => {
      if (Math.abs(entry.contentRect.width - width) < 1) return;
      width = entry.contentRect.width;
      fitRows(lastSpans);
    }).observe(element);
  }

  // Each source's load error stays on screen until a later load of that source works; "Saved."
  // is left alone. Kept per source: the entries' good answer arriving after dispatch.js's failed
  // free-time answer wiped that failure from the page.
  const loadErrors = new Map();

  function loadError(source, text) {
    const hadErrors = loadErrors.size > 0;
    if (text) loadErrors.set(source, text);
    else loadErrors.delete(source);
    if (loadErrors.size) say([...loadErrors.values()].join(" "), true);
    else if (hadErrors) say("");
  }

  async function loadEvents(info) {
    let items;
    let hoursError = null;
    try {
      let working;
      [items, working] = await Promise.all([
        api(queryFor(info.startStr, info.endStr)),
        // Without the hours the entries still show (no band, every drop asks), and the page says why.
        loadWorkingHours(info.startStr, info.endStr).catch((error) => {
          hoursError = error;
          return { hours: {}, daysOff: {} };
        }),
      ]);
      [workingIntervals, daysOff] = [working.hours, working.daysOff];
    } catch (error) {
      loadError("entries", `Could not load the calendar: ${error.message}`);
      return workingHours();
    }
    loadError("entries", null);
    loadError(
      "hours",
      hoursError && `Could not load the working hours (${hoursError.message}): every move will ask to confirm.`,
    );
    const entries = items.map(toEvent);
    lastSpans = entries.filter((entry) => !entry.allDay).map((entry) => [entry.start, entry.end]);
    fitRows(lastSpans);
    return entries.concat(workingHours());
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

  // Dropped on another technician's column or row: the move as the server makes it (from, to),
  // so the server's one rule decides who stays on it (calendars.services.agents_after_move).
  function moveOf(info) {
    if (!info.oldResource || !info.newResource || info.oldResource.id === info.newResource.id) return {};
    return { from_agent: Number(info.oldResource.id), to_agent: Number(info.newResource.id) };
  }

  // Dropped on the column or row of another technician who is already on the entry: their name.
  function alreadyOn(info) {
    if (!info.oldResource || !info.newResource || info.oldResource.id === info.newResource.id) return null;
    const agents = info.event.extendedProps.agents.map(String);
    return agents.includes(String(info.newResource.id)) ? info.newResource.title : null;
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

  // Why these technicians are off at [start, end] (wall-clock texts): a public holiday it falls
  // on, by name ("On Carol Smith's public holiday (Boxing Day)"), else outside their hours.
  function offWorkText(resources, start, end) {
    const holidays = [];
    const outside = [];
    for (const resource of resources) {
      const day = (daysOff[String(resource.id)] || []).find(
        (off) => wallClockOf(off.start) < end && start < wallClockOf(off.end),
      );
      if (day) holidays.push(`${resource.title}'s public holiday (${day.name})`);
      else outside.push(resource.title);
    }
    const parts = [];
    if (holidays.length) parts.push(`On ${holidays.join(" and ")}`);
    if (outside.length) parts.push(`${parts.length ? "outside" : "Outside"} the working hours of ${outside.join(", ")}`);
    return parts.join("; ");
  }

  // The entry's new wall-clock times after a drop or resize: the times it was given plus the
  // widget's deltas (the Dates in `info` are on the browser's clock; see the top). A resize moves
  // the one end it dragged. A drop moves the start by the delta on the user's wall clock (the
  // grid's rows), and keeps the entry's exact length, the rule of RFC 5545 for a start moved on
  // its wall clock: each instance of a series starts at its local time, read as 3.3.5 says in a
  // DST gap (02:30 on the spring night is 03:30 summer time), and lasts the exact duration of
  // DTSTART to DTEND (3.8.5.3; an hour is exact, 3.3.6). On other days that is also the
  // wall-clock length; across a change, 01:30-03:30 on the spring night (one real hour) dropped
  // an hour later is 03:30-04:30, never an end before its start.
  function movedTimes(info) {
    const { start, end, length } = info.event.extendedProps;
    if (!info.delta) return { start: shifted(start, info.startDelta), end: shifted(end, info.endDelta) };
    const moved = shifted(start, info.delta);
    if (info.event.allDay || length === undefined) return { start: moved, end: shifted(end, info.delta) };
    return { start: moved, end: wallClockAt(instantOf(moved) + length) };
  }

  // Asked on every step of a drag: a drop on another technician's column or row is allowed only
  // for an entry the user may give to others; the widget keeps the rest where they were. It still
  // calls eventDrop for such a drop (with the other technician as newResource), so that asks too.
  const OFF_ROWS = "Let go over a technician's row to move the entry there.";

  function mayDrop(info) {
    if (!overRows(info.jsEvent)) {
      say(OFF_ROWS, true);
      return false;
    }
    if (messageBox.textContent === OFF_ROWS) say("");
    if (!info.newResource || info.event.extendedProps.canReassign) return true;
    say(config.keepsTechniciansMessage, true);
    return false;
  }

  // Technicians as rows: is the pointer over one of the rows (in the part of the grid in view)?
  // The widget reads a pointer below the last row (or outside the grid) as over the nearest
  // row, so a drop there gave the entry to the last technician (trial F8).
  function overRows(jsEvent) {
    if (!rows || !jsEvent || jsEvent.clientY === undefined) return true;
    const heads = element.querySelectorAll(".ec-body .ec-row-head");
    const main = element.querySelector(".ec-main");
    const header = element.querySelector(".ec-main > .ec-header");
    if (!heads.length || !main) return true;
    const shown = main.getBoundingClientRect();
    const top = Math.max(heads[0].getBoundingClientRect().top, header ? header.getBoundingClientRect().bottom : shown.top);
    // The rows end at the last one, or where the grid's view ends (above its sideways scrollbar).
    const bottom = Math.min(heads[heads.length - 1].getBoundingClientRect().bottom, shown.top + main.clientTop + main.clientHeight);
    const x = jsEvent.clientX;
    return jsEvent.clientY >= top && jsEvent.clientY < bottom && x >= shown.left && x < shown.right;
  }

  // Does [start, end] (wall-clock texts) meet a busy timed entry on screen of one of these
  // technicians, other than the entry moved? Then the server's 409 will name the overlap.
  function overlapsOnScreen(movedId, start, end, agentIds) {
    const ids = new Set(agentIds.map(Number));
    return calendar.getEvents().some((event) => {
      const props = event.extendedProps || {};
      if (event.display === "background" || event.allDay || String(event.id) === String(movedId)) return false;
      if (!props.busy || !(props.agents || []).some((id) => ids.has(Number(id)))) return false;
      return props.start < end && start < props.end;
    });
  }

  // Until a drop or resize is answered, the entry shows the times asked about: its label is cut
  // from its wall-clock texts (entryLabel), so they are the moved ones meanwhile, and a refusal
  // puts the old ones back before the widget's revert redraws it. With the old texts a drop to
  // another day read "28/03/2027, 00:00 – 26/03/2027, 11:00" behind "Save anyway", and a drop to
  // another column its old time (trial F-DRAG-LABEL). Returns the revert.
  function showMoved(info, moved) {
    const props = info.event.extendedProps;
    const was = { start: props.start, end: props.end };
    Object.assign(props, moved);
    return () => {
      Object.assign(props, was);
      info.revert();
    };
  }

  // `agentIds`: the technicians it will be on (working hours asked about before saving).
  async function save(info, changes, agentIds = info.event.extendedProps.agents) {
    const { start, end } = movedTimes(info);
    const revert = showMoved(info, { start, end });
    const offHours = info.event.allDay ? [] : outOfHours(start, end, agentIds);
    // A drop that also meets an entry on screen asks once, in the server's question (its 409 names
    // the overlaps and the working hours together, README "a drag asks once"; trial F5): the
    // hours are not asked here first. Otherwise the hours are asked here, in the page's words.
    const outside = offHours.length && overlapsOnScreen(info.event.id, start, end, agentIds) ? [] : offHours;
    if (outside.length) {
      const asked = { title: words.titleOutside, question: words.question, lines: [`${offWorkText(outside, start, end)}.`] };
      if (!(await window.helpdeskAsk({ ...asked, confirm: words.saveAnyway, className: "off-hours-dialog" }))) {
        revert();
        say("Not saved.");
        return;
      }
    }
    const send = (body) => api(`${config.appointmentsUrl}${info.event.id}/`, { method: "PATCH", body: JSON.stringify(body) });
    try {
      let item;
      try {
        item = await send(changes);
      } catch (error) {
        // A double booking or working hours left (409, an expected answer): the server names
        // them; save only when confirmed in the page's own dialog. The working hours were just
        // asked about above: an answer naming nothing else saves without asking twice.
        if (error.status !== 409) throw error;
        // Only when the server names no technician the page did not ask about (hours changed since
        // the page loaded, a technician not shown on it): else its own question is asked (review 12).
        const asked = new Set(outside.map((resource) => String(resource.id)));
        const named = ((error.body && error.body.outside_working_hours) || []).map((off) => String(off.agent));
        const onlyHoursAsked =
          outside.length && !((error.body && error.body.overlaps) || []).length && named.every((id) => asked.has(id));
        if (!onlyHoursAsked && !(await askOverlap(error))) {
          revert();
          say("Not saved: it would overlap other entries.");
          return;
        }
        item = await send({ ...changes, confirm_overlap: true });
      }
      Object.assign(info.event.extendedProps, toEvent(item).extendedProps);
      say("Saved.");
      calendar.refetchEvents();
    } catch (error) {
      revert();
      say(`Not saved: ${error.message}`, true);
    }
  }

  // The double-booking question, in the page (trial 5; helpdesk.js draws it) and in the forms'
  // words (config.conflictWords, calendars.conflict_words): each overlap and working hours left
  // on a line of its own (the 409's `overlaps` and `outside_working_hours`, each with its
  // `message`; the server's sentence when it names neither), and "Save anyway" / "Cancel".
  // Resolves true for "Save anyway"; Escape or "Cancel" is false.
  function askOverlap(error) {
    const overlaps = (error.body && error.body.overlaps) || [];
    const outside = (error.body && error.body.outside_working_hours) || [];
    const lines = [...overlaps, ...outside].map((entry) => entry.message);
    return window.helpdeskAsk({
      title: overlaps.length ? words.titleOverlaps : words.titleOutside,
      question: words.question,
      lines: lines.length ? lines : [error.message],
      confirm: words.saveAnyway,
      className: "overlap-dialog",
    });
  }

  function openEntry(info) {
    if (info.event.display === "background") return;
    // The page comes back here after a delete or a cancelled occurrence (same-site, checked there).
    const next = new URLSearchParams({ next: window.location.pathname + window.location.search });
    window.location.href = `${config.detailUrl.replace("{id}", info.event.id)}?${next}`;
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
    // EventCalendar 5.10 ignores an offset of zero (`offset ? offset - tzOffset(result) : 0` in
    // core/src/lib/date.js) and then puts them on the browser's clock: a London user on an
    // Auckland browser saw Tuesday as today on Monday afternoon. "UTC" and "-00:00" are read as
    // that same 0, no option sets "now", and 5.10.1 is the newest release: one minute is the
    // smallest offset it reads, so UTC+0 is given as "+00:01": the now line a minute ahead, and
    // "today" turning a minute before midnight, instead of a day off. Entries are not moved by
    // it: their naive texts are taken as they are (only texts with an offset are shifted).
    // test_today_and_the_now_line_follow_the_users_zone_not_the_browsers fails without it.
    timeZone: /^[+-]00:00$/.test(config.utcOffset) ? "+00:01" : config.utcOffset || "local",
    // A fixed height on phones too: with "auto" the page, not the grid, scrolls, and scrollTime
    // has nothing to scroll, so the day opened at 00:00.
    height: phone ? "max(24rem, calc(100svh - 9rem))" : "calc(100vh - 12rem)",
    nowIndicator: true,
    firstDay: 1,
    locale: document.documentElement.lang || "en-GB",
    // Each part's day, for entryLabel (the widget's label would come through a browser Date).
    eventTimeFormat: partDay,
    eventContent: entryContent,
    // Entries at the same time side by side, not drawn over one another (trial 12).
    slotEventOverlap: false,
    slotLabelFormat: { hour: "2-digit", minute: "2-digit", hour12: false },
    // Day and week views open at the earliest working hour shown, not at midnight.
    scrollTime: `${config.scrollTime || "07:00"}:00`,
    editable: false,
    eventStartEditable: true,
    eventDurationEditable: true,
    // Other page scripts (dispatch.js) register their layers before this one runs.
    eventSources: [{ events: loadEvents }, ...(window.helpdeskEventSources || [])],
    // Asked on every step with the step's delta, before the preview moves.
    dragConstraint: (info) => {
      const allowed = mayDrop(info);
      // A refused step puts the preview back where the entry was.
      if (allowed) recordStep(info);
      else preview = null;
      return allowed;
    },
    resizeConstraint: (info) => {
      recordStep(info);
      return true;
    },
    eventDragStart: () => (preview = null),
    eventResizeStart: () => (preview = null),
    eventDrop: (info) => {
      const already = alreadyOn(info);
      if (already) {
        // Swapping the old technician for one already on it would only drop the old one (trial 4).
        info.revert();
        say(`Not moved: ${already} is already on it.`, true);
        return;
      }
      if (mayDrop(info)) return save(info, { ...movedTimes(info), ...moveOf(info) }, agentsAfterDrop(info));
      info.revert();
      if (!overRows(info.jsEvent)) say("Not moved: it was let go outside the technicians' rows.", true);
    },
    eventResize: (info) => save(info, movedTimes(info)),
    eventClick: openEntry,
    // Every entry names its times and subject on hover: in a week of rows, or a narrow column,
    // its label is cut to a few letters or to nothing.
    eventDidMount: (info) => {
      if (info.event.extendedProps.tooltip) info.el.title = info.event.extendedProps.tooltip;
    },
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
    if (config.view === "resourceTimeline") {
      // Until the first load fits the hours and the width to the screen (fitRows).
      options.slotWidth = 48;
      // The rows' count, for their equal heights (helpdesk.css).
      element.style.setProperty("--technician-rows", String(Math.max(1, config.resources.length)));
    }
    // Many technicians (on a phone, or a week of eight on a desktop) made columns of cut names and
    // entries: each keeps a readable width and the grid scrolls sideways in the widget, its hours staying put.
    else options.columnWidth = "minmax(7rem, 1fr)";
  } else {
    options.view = phone && config.view === "timeGridWeek" ? "timeGridDay" : config.view;
    options.headerToolbar = phone
      ? // The title (the date shown) gets a row of its own on a phone (helpdesk.css).
        { start: "prev,next today", center: "title", end: "timeGridDay,listWeek,dayGridMonth" }
      : { start: "prev,next today", center: "title", end: "timeGridDay,timeGridWeek,dayGridMonth,listWeek" };
  }

  const calendar = EventCalendar.create(element, options);
  window.helpdeskCalendar = calendar;
  // Other scripts on the page (dispatch.js) report their failed loads here, in the same message box.
  // detail: {source, message}; a null message says that source loaded well again.
  document.addEventListener("helpdesk:load-error", (event) => loadError(event.detail.source, event.detail.message));
})();
