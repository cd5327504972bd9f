/* The Connectors page (include/atlas/api/ui.py): the status table and the create/edit form.
 *
 * Everything comes from the connectors API under the same mount point, with the Airflow UI's session
 * cookie (same origin). The form is generated from the JSON Schema of each source type
 * (GET /connectors/types); the API's 422 answers name the bad fields, shown next to them.
 * The DOM is built with createElement only: no value from the API is ever parsed as HTML.
 */
"use strict";

(() => {
  const API = document.body.dataset.api; // where the app is mounted, e.g. "/atlas"
  const REFRESH_MS = 15000;
  const SPARK_SLOTS = 20; // runs shown per sparkline (the API's default recent_runs)
  // Inline credentials the API accepts in `config` (saved as the Airflow Connection atlas_<name>).
  const CREDENTIALS = {
    postgresql: ["host", "port", "database", "username", "password"],
    mysql: ["host", "port", "database", "username", "password"],
    sqlite: ["database"],
    rest_api: ["base_url", "auth_token", "username", "password"],
  };
  const SECRET_FIELDS = new Set(["password", "auth_token"]);

  const state = { connectors: [], types: null, results: new Map(), timer: null, form: null };
  const $ = (selector) => document.querySelector(selector);

  // ------------------------------------------------------------------------------ DOM helpers
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    setAttributes(el, attrs);
    append(el, children);
    return el;
  }

  function svg(tag, attrs, ...children) {
    const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
    setAttributes(el, attrs);
    append(el, children);
    return el;
  }

  function setAttributes(el, attrs) {
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "dataset") Object.assign(el.dataset, value);
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
  }

  function append(el, children) {
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : String(child));
    }
  }

  // ------------------------------------------------------------------------------- formatting
  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
    return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
  }

  function ago(iso) {
    if (!iso) return null;
    const seconds = (Date.now() - Date.parse(iso)) / 1000;
    return h("span", { title: new Date(iso).toLocaleString() }, seconds < 5 ? "just now" : `${duration(seconds)} ago`);
  }

  const count = (n) => Number(n || 0).toLocaleString();

  function chip(text, tone, attrs) {
    return h("span", { class: `chip ${tone || ""}`, ...attrs }, text);
  }

  const RUN_TONES = { success: "ok", failed: "bad", running: "run", queued: "run", upstream_failed: "bad" };

  /** One word for a connector's health, and its colour: what a status page shows first. */
  function health(c) {
    const run = c.last_run && c.last_run.state;
    if (!c.valid) return ["Invalid", "bad"];
    if (run === "running" || run === "queued") return ["Syncing", "run"];
    if (run === "failed") return ["Failing", "bad"];
    if (c.stale) return ["Stale", "warn"];
    if (!c.dag_parsed) return ["Waiting for Airflow", ""];
    if (c.dag_paused || c.enabled === false) return ["Paused", ""];
    if (run === "success") return ["Healthy", "ok"];
    return ["No runs yet", ""];
  }

  // ------------------------------------------------------------------------------------- API
  async function api(method, path, body) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(API + path, init);
    } catch (err) {
      return { ok: false, status: 0, data: { detail: `the Airflow API server did not answer (${err.message})` } };
    }
    let data = null;
    try {
      data = await resp.json();
    } catch {
      data = null; // an empty or non-JSON body: the status says enough
    }
    return { ok: resp.ok, status: resp.status, data };
  }

  /** The API's error as one line: a message, or each field's path and message. */
  function errorText(resp) {
    if (resp.status === 401) return "Your Airflow session has ended: log in again.";
    const detail = resp.data && resp.data.detail;
    if (Array.isArray(detail)) return detail.map((d) => `${(d.loc || []).join(".") || "body"}: ${d.msg}`).join("; ");
    return detail ? String(detail) : `HTTP ${resp.status}`;
  }

  const path = (c, action) => `/connectors/${encodeURIComponent(c.connector_id)}${action ? `/${action}` : ""}`;

  // ---------------------------------------------------------------------------------- table
  async function refresh() {
    const resp = await api("GET", "/connectors/");
    const banner = $("#banner");
    if (!resp.ok) {
      banner.hidden = false;
      banner.replaceChildren(
        `Could not load the connectors: ${errorText(resp)} `,
        resp.status === 401 ? h("a", { href: "/", target: "_top" }, "Log in") : null,
      );
      return;
    }
    banner.hidden = true;
    state.connectors = resp.data;
    render();
    $("#refreshed").textContent = `updated ${new Date().toLocaleTimeString()}`;
  }

  function render() {
    const rows = state.connectors.map(row);
    $("#connectors tbody").replaceChildren(...rows);
    $("#empty").hidden = rows.length > 0;
    const tally = new Map();
    for (const c of state.connectors) {
      const [word, tone] = health(c);
      const entry = tally.get(word) || { tone, n: 0 };
      entry.n += 1;
      tally.set(word, entry);
    }
    $("#totals").replaceChildren(
      chip(`${state.connectors.length} connectors`, ""),
      ...[...tally].map(([word, { tone, n }]) => chip(`${n} ${word.toLowerCase()}`, tone)),
    );
  }

  function row(c) {
    const [word, tone] = health(c);
    return h(
      "tr",
      { dataset: { connector: c.source_name, connectorId: c.connector_id } },
      h("td", { class: "status" }, chip(word, tone, { dataset: { health: word } })),
      h("td", {}, connectorCell(c)),
      h("td", {}, scheduleCell(c)),
      h("td", {}, lastRunCell(c)),
      h("td", { class: "last-success" }, c.last_success_at ? ago(c.last_success_at) : c.last_success_at === null ? "never" : "—"),
      h("td", { class: "freshness" }, freshnessCell(c)),
      h("td", { class: "recent" }, sparkline(c.recent_runs || [])),
      h("td", { class: "actions" }, actionsCell(c)),
    );
  }

  function connectorCell(c) {
    return [
      h("span", { class: "name" }, c.source_name),
      chip(c.source_type || "?", "type"),
      h("span", { class: "sub" }, h("a", { href: `/dags/${encodeURIComponent(c.dag_id)}`, target: "_top" }, c.dag_id)),
      c.valid
        ? null
        : h(
            "ul",
            { class: "errors" },
            (c.errors || []).map((e) => h("li", {}, h("code", {}, (e.loc || []).join(".") || "connector"), `: ${e.msg}`)),
          ),
    ];
  }

  function scheduleCell(c) {
    return [
      c.schedule_cron ? h("code", {}, c.schedule_cron) : h("span", { class: "muted" }, "manual only"),
      h(
        "span",
        { class: "sub" },
        c.enabled === false ? chip("disabled", "") : null,
        !c.dag_parsed ? chip("DAG not parsed yet", "") : c.dag_paused ? chip("DAG paused", "warn") : null,
        c.enabled !== false && c.dag_parsed && !c.dag_paused ? "enabled" : null,
      ),
    ];
  }

  function lastRunCell(c) {
    const run = c.last_run;
    if (!run) return h("span", { class: "muted" }, "no runs yet");
    return [
      chip(run.state, RUN_TONES[run.state] || ""),
      h("span", { class: "sub" }, ago(run.at)),
      run.error ? h("span", { class: "run-error", title: run.error }, run.error.slice(0, 160)) : null,
    ];
  }

  function freshnessCell(c) {
    if (!("freshness_lag_seconds" in c)) return "—";
    const limit = c.max_staleness_minutes;
    return [
      c.freshness_lag_seconds === null ? h("span", { class: "muted" }, "no data yet") : duration(c.freshness_lag_seconds),
      c.stale ? [" ", chip("stale", "warn", { dataset: { stale: "true" } })] : null,
      limit ? h("span", { class: "sub" }, `limit ${duration(limit * 60)}`) : null,
    ];
  }

  /** The recent runs as bars: height ~ rows written, colour = state, newest on the right. */
  function sparkline(runs) {
    const width = 124;
    const height = 28;
    const slot = width / SPARK_SLOTS;
    const most = Math.max(1, ...runs.map((r) => r.rows_written));
    const shown = runs.slice(-SPARK_SLOTS);
    const states = shown.reduce((acc, r) => ({ ...acc, [r.state]: (acc[r.state] || 0) + 1 }), {});
    const label = shown.length
      ? `${shown.length} recent runs: ${Object.entries(states).map(([s, n]) => `${n} ${s}`).join(", ")}`
      : "no runs recorded yet";
    const bars = shown.map((r, i) => {
      const barHeight = Math.max(3, Math.round((r.rows_written / most) * (height - 2)));
      const x = width - (shown.length - i) * slot;
      const tip = `${r.state} · ${count(r.rows_written)} rows · ${duration(r.duration_seconds)} · ${new Date(r.started_at).toLocaleString()}`;
      return svg(
        "rect",
        { class: r.state, x: x + 1, y: height - barHeight, width: Math.max(2, slot - 2), height: barHeight, rx: 1 },
        svg("title", {}, tip),
      );
    });
    const last = shown[shown.length - 1];
    return [
      svg(
        "svg",
        { class: "spark", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, dataset: { runs: shown.length } },
        svg("line", { class: "axis", x1: 0, y1: height - 0.5, x2: width, y2: height - 0.5 }),
        bars,
      ),
      last ? h("span", { class: "sub" }, `last: ${count(last.rows_written)} rows, ${duration(last.duration_seconds)}`) : null,
    ];
  }

  function actionsCell(c) {
    const result = state.results.get(c.connector_id);
    return [
      h("button", { type: "button", dataset: { action: "test" }, onclick: (e) => run(e.target, c, testConnector) }, "Test"),
      h("button", { type: "button", dataset: { action: "sync" }, onclick: (e) => run(e.target, c, syncConnector) }, "Sync now"),
      h("button", { type: "button", dataset: { action: "edit" }, onclick: () => openForm(c) }, "Edit"),
      result ? h("div", { class: `result ${result.tone}`, role: "status" }, result.text, result.link || null) : null,
    ];
  }

  // -------------------------------------------------------------------------------- actions
  function setResult(c, tone, text, link) {
    state.results.set(c.connector_id, { tone, text, link });
    render();
  }

  async function run(button, c, action) {
    button.disabled = true;
    try {
      await action(c);
    } finally {
      button.disabled = false;
    }
  }

  async function testConnector(c) {
    setResult(c, "pending", "Testing the connection…");
    const resp = await api("POST", path(c, "test"));
    if (!resp.ok) return setResult(c, "bad", `Test failed: ${errorText(resp)}`);
    setResult(c, resp.data.ok ? "ok" : "bad", `${resp.data.ok ? "✓" : "✗"} ${resp.data.message}`);
  }

  async function syncConnector(c) {
    setResult(c, "pending", "Starting a run…");
    const resp = await api("POST", path(c, "sync"), {});
    if (!resp.ok) return setResult(c, "bad", `Sync not started: ${errorText(resp)}`);
    const run = resp.data;
    const href = `/dags/${encodeURIComponent(run.dag_id)}/runs/${encodeURIComponent(run.dag_run_id)}`;
    setResult(
      c,
      "ok",
      `${run.message}: `,
      h("a", { href, target: "_top", dataset: { dagRunId: run.dag_run_id } }, run.dag_run_id),
    );
    await refresh();
  }

  // ------------------------------------------------------------------------- schema → form
  /* Each control is {el, get()}: get() returns the value to send, or undefined to leave the field
   * out (a create then takes the default, an update keeps the stored value). An empty optional field
   * is sent as null, which clears it. */

  class FieldError extends Error {
    constructor(fieldPath, message) {
      super(message);
      this.fieldPath = fieldPath;
    }
  }

  function deref(schema, root) {
    let s = schema || {};
    while (s.$ref) s = root.$defs[s.$ref.split("/").pop()];
    return s;
  }

  function field(fieldPath, schema, input, required, hint) {
    const id = `field-${fieldPath.replace(/[^a-z0-9_]/gi, "-")}`;
    input.id = id;
    input.name = fieldPath;
    const description = [schema.description, hint].filter(Boolean).join(" ");
    return h(
      "div",
      { class: "field", dataset: { path: fieldPath } },
      h("label", { for: id, class: required ? "required" : null }, schema.title || fieldPath.split(".").pop()),
      input,
      description ? h("small", { class: "muted" }, description) : null,
      h("div", { class: "field-error", dataset: { errorFor: fieldPath }, hidden: true }),
    );
  }

  const empty = (nullable) => (nullable ? null : undefined);

  function control(fieldPath, schemaIn, root, value, required, nullableIn) {
    let schema = deref(schemaIn, root);
    let nullable = Boolean(nullableIn);
    const options = schema.anyOf || schema.oneOf;
    if (options) {
      const concrete = options.filter((o) => o.type !== "null").map((o) => deref(o, root));
      nullable = nullable || concrete.length < options.length;
      if (concrete.length === 1) {
        const { anyOf, oneOf, ...rest } = schema;
        schema = { ...concrete[0], ...rest };
      } else if (concrete.every((o) => o.properties && o.properties.type && o.properties.type.const !== undefined)) {
        return unionControl(fieldPath, schema, concrete, root, value, required, nullable);
      } else {
        return jsonControl(fieldPath, schema, value, required, nullable);
      }
    }
    if (schema.type === "object" && schema.properties) return objectControl(fieldPath, schema, root, value, nullable);
    if (schema.enum) return enumControl(fieldPath, schema, value, required, nullable);
    if (schema.type === "boolean") return booleanControl(fieldPath, schema, value);
    if (schema.type === "integer" || schema.type === "number") return numberControl(fieldPath, schema, value, required, nullable);
    if (schema.type === "string") return textControl(fieldPath, schema, value, required, nullable);
    const items = deref(schema.items, root);
    if (schema.type === "array" && ["string", "integer"].includes(items.type)) {
      return listControl(fieldPath, schema, items, value, required, nullable);
    }
    return jsonControl(fieldPath, schema, value, required, nullable);
  }

  const initial = (schema, value) => (value !== undefined ? value : schema.default);

  function textControl(fieldPath, schema, value, required, nullable, secret) {
    const v = initial(schema, value);
    const input = h("input", { type: secret ? "password" : "text", value: v ?? "", autocomplete: secret ? "new-password" : "off" });
    return {
      el: field(fieldPath, schema, input, required),
      get: () => (input.value.trim() === "" ? empty(nullable) : input.value.trim()),
    };
  }

  function numberControl(fieldPath, schema, value, required, nullable) {
    const v = initial(schema, value);
    const input = h("input", { type: "number", value: v ?? "", step: schema.type === "integer" ? 1 : "any", min: schema.minimum, max: schema.maximum });
    return {
      el: field(fieldPath, schema, input, required),
      get: () => {
        if (input.value.trim() === "") {
          if (input.validity.badInput) throw new FieldError(fieldPath, "not a number");
          return empty(nullable);
        }
        return Number(input.value);
      },
    };
  }

  function booleanControl(fieldPath, schema, value) {
    const input = h("input", { type: "checkbox", checked: Boolean(initial(schema, value)) });
    return { el: field(fieldPath, schema, input, false), get: () => input.checked };
  }

  function enumControl(fieldPath, schema, value, required, nullable) {
    const v = initial(schema, value);
    const input = h(
      "select",
      {},
      nullable ? h("option", { value: "" }, "—") : null,
      schema.enum.map((option) => h("option", { value: option, selected: option === v }, option)),
    );
    return { el: field(fieldPath, schema, input, required), get: () => (input.value === "" ? empty(nullable) : input.value) };
  }

  function listControl(fieldPath, schema, items, value, required, nullable) {
    const v = initial(schema, value);
    const input = h("input", { type: "text", value: Array.isArray(v) ? v.join(", ") : "" });
    return {
      el: field(fieldPath, schema, input, required, "Comma-separated."),
      get: () => {
        const parts = input.value.split(",").map((p) => p.trim()).filter(Boolean);
        if (!parts.length) return empty(nullable);
        return items.type === "integer" ? parts.map(Number) : parts;
      },
    };
  }

  function jsonControl(fieldPath, schema, value, required, nullable) {
    const v = initial(schema, value);
    const input = h("textarea", { spellcheck: "false" });
    input.value = v === undefined || v === null ? "" : JSON.stringify(v, null, 2);
    return {
      el: field(fieldPath, schema, input, required, "JSON."),
      get: () => {
        if (input.value.trim() === "") return empty(nullable);
        try {
          return JSON.parse(input.value);
        } catch (err) {
          throw new FieldError(fieldPath, `not valid JSON: ${err.message}`);
        }
      },
    };
  }

  function objectControl(fieldPath, schema, root, value, nullable, skip) {
    const children = [];
    const body = h("div", {});
    for (const [name, prop] of Object.entries(schema.properties)) {
      if (skip && skip.has(name)) continue;
      const child = control(`${fieldPath}.${name}`, prop, root, (value || {})[name], (schema.required || []).includes(name));
      children.push([name, child]);
      body.append(child.el);
    }
    const collect = () => {
      const out = {};
      for (const [name, child] of children) {
        const v = child.get();
        if (v !== undefined) out[name] = v;
      }
      return out;
    };
    const name = fieldPath.split(".").pop();
    const about = schema.description ? h("small", { class: "muted" }, schema.description) : null;
    if (!nullable) {
      return { el: h("fieldset", { dataset: { path: fieldPath } }, h("legend", {}, name), about, body), get: collect };
    }
    // An optional section: off sends null (none), on sends its fields.
    const toggle = h("input", { type: "checkbox", checked: value !== undefined && value !== null, name: `${fieldPath}:set` });
    body.hidden = !toggle.checked;
    toggle.addEventListener("change", () => (body.hidden = !toggle.checked));
    return {
      el: h("fieldset", { dataset: { path: fieldPath } }, h("legend", {}, h("label", {}, toggle, ` ${name}`)), about, body),
      get: () => (toggle.checked ? collect() : null),
    };
  }

  function unionControl(fieldPath, schema, variants, root, value, required, nullable) {
    const current = value && value.type;
    const select = h(
      "select",
      {},
      nullable ? h("option", { value: "" }, "—") : null,
      variants.map((v) => h("option", { value: v.properties.type.const, selected: v.properties.type.const === current }, v.properties.type.const)),
    );
    const holder = h("div", {});
    let inner = null;
    const show = () => {
      const variant = variants.find((v) => v.properties.type.const === select.value);
      inner = variant ? objectControl(fieldPath, variant, root, variant.properties.type.const === current ? value : {}, false, new Set(["type"])) : null;
      holder.replaceChildren(...(inner ? [h("small", { class: "muted" }, variant.description || ""), ...inner.el.lastChild.childNodes] : []));
    };
    select.addEventListener("change", show);
    show();
    return {
      el: h("fieldset", { dataset: { path: fieldPath } }, h("legend", {}, fieldPath.split(".").pop()), field(`${fieldPath}.type`, { title: "Type", description: schema.description }, select, required), holder),
      get: () => (inner ? { type: select.value, ...inner.get() } : empty(nullable)),
    };
  }

  function credentialsControl(sourceType, editing) {
    const names = CREDENTIALS[sourceType] || [];
    const controls = names.map((name) =>
      textControl(`config.${name}`, { title: name }, "", false, false, SECRET_FIELDS.has(name)),
    );
    const note = editing
      ? "Leave empty to keep the connection's current values."
      : "Instead of conn_id: saved as the Airflow Connection atlas_<source_name>, never in the connector row.";
    return {
      el: h("fieldset", { dataset: { path: "credentials" } }, h("legend", {}, "Credentials"), h("small", { class: "muted" }, note), controls.map((c) => c.el)),
      get: () => Object.fromEntries(names.map((n, i) => [n, controls[i].get()]).filter(([, v]) => v !== undefined)),
    };
  }

  // ------------------------------------------------------------------------------- the form
  async function loadTypes() {
    if (state.types) return state.types;
    const resp = await api("GET", "/connectors/types");
    if (!resp.ok) throw new Error(errorText(resp));
    state.types = resp.data;
    return state.types;
  }

  /** The stored definition as the spec's fields (the row keeps extended settings under `options`). */
  function definitionValues(definition) {
    const { options, created_at, updated_at, ...columns } = definition;
    return { ...columns, ...(options || {}) };
  }

  async function openForm(connector) {
    const dialog = $("#editor");
    let types;
    try {
      types = await loadTypes();
    } catch (err) {
      return alert(`Could not load the connector types: ${err.message}`);
    }
    let values = {};
    if (connector) {
      const resp = await api("GET", path(connector));
      if (!resp.ok) return setResult(connector, "bad", `Could not load it: ${errorText(resp)}`);
      values = definitionValues(resp.data.connector);
    }
    const select = $("#source-type");
    select.replaceChildren(...types.map((t) => h("option", { value: t.source_type }, t.source_type)));
    select.value = connector ? values.source_type : types[0].source_type;
    select.disabled = Boolean(connector);
    select.onchange = () => buildFields(select.value, {}, null);
    $("#form-title").textContent = connector ? `Edit ${connector.source_name}` : "New connector";
    buildFields(select.value, values, connector);
    dialog.showModal();
  }

  function buildFields(sourceType, values, connector) {
    const type = state.types.find((t) => t.source_type === sourceType);
    const root = type.config_schema;
    $("#type-description").textContent = type.description;
    clearErrors();
    const controls = [];
    const container = $("#form-fields");
    container.replaceChildren();
    for (const [name, prop] of Object.entries(root.properties)) {
      if (name === "connector_id" || name === "source_type") continue;
      const required = (root.required || []).includes(name) && !(name === "conn_id");
      const child = control(name, prop, root, values[name], required);
      controls.push([name, child]);
      container.append(child.el);
    }
    const credentials = credentialsControl(sourceType, Boolean(connector));
    container.append(credentials.el);
    state.form = { sourceType, controls, credentials, connector };
  }

  function clearErrors() {
    const error = $("#form-error");
    error.hidden = true;
    error.replaceChildren();
    for (const el of document.querySelectorAll(".field-error")) {
      el.hidden = true;
      el.textContent = "";
    }
    for (const el of document.querySelectorAll(".field.invalid")) el.classList.remove("invalid");
  }

  /** Show an error next to its field; one no field matches goes to the top of the form. */
  function showFieldError(loc, message) {
    const parts = loc.map(String);
    for (let n = parts.length; n > 0; n--) {
      const target = document.querySelector(`.field-error[data-error-for="${CSS.escape(parts.slice(0, n).join("."))}"]`);
      if (target) {
        target.hidden = false;
        target.textContent = target.textContent ? `${target.textContent}; ${message}` : message;
        target.parentElement.classList.add("invalid");
        return;
      }
    }
    const error = $("#form-error");
    error.hidden = false;
    error.append(h("div", {}, parts.length ? `${parts.join(".")}: ${message}` : message));
  }

  function formBody() {
    const { sourceType, controls, credentials, connector } = state.form;
    const body = connector ? {} : { source_type: sourceType };
    for (const [name, child] of controls) {
      const v = child.get();
      if (v !== undefined) body[name] = v;
    }
    body.config = { ...(body.config || {}), ...credentials.get() };
    return body;
  }

  async function submitForm(event) {
    event.preventDefault();
    clearErrors();
    let body;
    try {
      body = formBody();
    } catch (err) {
      if (err instanceof FieldError) return showFieldError(err.fieldPath.split("."), err.message);
      throw err;
    }
    const { connector } = state.form;
    const save = $("#save");
    save.disabled = true;
    const resp = connector ? await api("PUT", path(connector), body) : await api("POST", "/connectors/", body);
    save.disabled = false;
    if (resp.ok) {
      $("#editor").close();
      setResult(resp.data, "ok", connector ? "Saved; Airflow picks the change up on its next parse." : "Created; its DAG appears after Airflow's next parse.");
      return refresh();
    }
    const detail = resp.data && resp.data.detail;
    if (Array.isArray(detail)) {
      for (const d of detail) showFieldError(d.loc || [], d.msg);
    } else {
      showFieldError([], errorText(resp));
    }
  }

  // --------------------------------------------------------------------------------- wiring
  function schedule() {
    clearInterval(state.timer);
    if ($("#auto-refresh").checked) {
      state.timer = setInterval(() => document.visibilityState === "visible" && refresh(), REFRESH_MS);
    }
  }

  $("#refresh").addEventListener("click", refresh);
  $("#auto-refresh").addEventListener("change", schedule);
  $("#new-connector").addEventListener("click", () => openForm(null));
  $("#connector-form").addEventListener("submit", submitForm);
  $("#cancel").addEventListener("click", () => $("#editor").close());
  refresh();
  schedule();
})();
