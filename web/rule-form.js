// The dashboard's rule form: one field per key of the chosen kind (as in the config's pipeline.rules),
// checked as typed where the browser can (numbers), and by the server for everything else; the
// server's reason is shown next to the field it names. Loaded before app.js, which calls
// vigilRuleForm.mount(...) and vigilRuleForm.describe(rule).
'use strict';

window.vigilRuleForm = (() => {
  const NUMBER = 'number';
  const TEXT = 'text';
  const LIST = 'list';
  const JSON_TEXT = 'json';
  /** The fields of each kind, in the order a person fills them: [key, type, placeholder]. */
  const KINDS = {
    threshold: [
      ['metric', TEXT, 'temperature'],
      ['above', NUMBER, '30'],
      ['below', NUMBER, ''],
      ['hysteresis', NUMBER, '0'],
      ['minDuration', TEXT, '20s'],
    ],
    aggregate: [
      ['window', TEXT, 'tumbling-10s'],
      ['metric', TEXT, 'temperature'],
      ['aggregate', TEXT, 'mean'],
      ['above', NUMBER, '30'],
      ['below', NUMBER, ''],
      ['hysteresis', NUMBER, '0'],
      ['minDuration', TEXT, '20s'],
      ['minCount', NUMBER, '2'],
    ],
    count: [
      ['window', TEXT, 'tumbling-1m'],
      ['metric', TEXT, 'ERROR'],
      ['above', NUMBER, '1'],
    ],
    outlier: [
      ['metric', TEXT, 'noise_level'],
      ['zScore', NUMBER, '4'],
      ['mean', NUMBER, ''],
      ['stddev', NUMBER, ''],
      ['minSamples', NUMBER, '30'],
    ],
    'rate-of-change': [
      ['metric', TEXT, 'pressure'],
      ['maxPerSecond', NUMBER, '1'],
    ],
    silence: [['after', TEXT, '1m']],
  };
  /** Every kind: which sensors the rule judges, and sensors' own thresholds. */
  const SCOPE = [
    ['sensors', LIST, 'freezer-*, st-00??  (empty: every sensor)'],
    ['sensorLabels', JSON_TEXT, '{"site": "north"}'],
    ['overrides', JSON_TEXT, '{"st-0007": {"above": 40}}'],
  ];
  const fieldsOf = (kind) => [...KINDS[kind], ...SCOPE];

  /** A value as the form shows it: a list comma-separated, an object as JSON. */
  function shown(value) {
    if (value === undefined) return '';
    if (Array.isArray(value)) return value.join(', ');
    if (typeof value === 'object') return JSON.stringify(value);
    return String(value);
  }

  /** A field's text as the rule holds it, or an error message. */
  function parsed(type, text) {
    if (type === NUMBER)
      return Number.isFinite(Number(text)) ? { value: Number(text) } : { error: 'must be a number' };
    if (type === LIST)
      return {
        value: text
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      };
    if (type === JSON_TEXT) {
      try {
        return { value: JSON.parse(text) };
      } catch {
        return { error: 'must be JSON, an object' };
      }
    }
    return { value: text };
  }
  function field(name, type, placeholder, value) {
    const label = document.createElement('label');
    label.dataset.field = name;
    label.append(document.createTextNode(name));
    const input = document.createElement('input');
    input.name = name;
    input.type = 'text';
    input.inputMode = type === NUMBER ? 'decimal' : 'text';
    input.placeholder = placeholder;
    input.value = shown(value);
    const error = document.createElement('span');
    error.className = 'field-error';
    label.append(input, error);
    return label;
  }

  /**
   * Builds the form in `host`; `save(spec)` sends a rule and resolves, or rejects with an Error whose
   * `field` names the key the server refused (and whose message says why).
   */
  function mount(host, save) {
    const form = document.createElement('form');
    form.id = 'rule-editor';
    form.noValidate = true;
    const kind = document.createElement('select');
    kind.name = 'kind';
    for (const k of Object.keys(KINDS)) kind.append(new Option(k, k));
    const severity = document.createElement('select');
    severity.name = 'severity';
    for (const s of ['info', 'warning', 'critical'])
      severity.append(new Option(s, s, s === 'warning', s === 'warning'));
    const fixed = document.createElement('div');
    fixed.className = 'fields';
    const id = field('id', TEXT, 'my-rule');
    const kindLabel = document.createElement('label');
    kindLabel.append(document.createTextNode('kind'), kind);
    const severityLabel = document.createElement('label');
    severityLabel.append(document.createTextNode('severity'), severity);
    fixed.append(id, kindLabel, severityLabel);
    const fields = document.createElement('div');
    fields.className = 'fields';
    const result = document.createElement('p');
    result.className = 'form-result';
    const submit = document.createElement('button');
    submit.type = 'submit';
    submit.textContent = 'Save rule';
    form.append(fixed, fields, submit, result);
    host.replaceChildren(form);

    const render = (values = {}) => {
      fields.replaceChildren(...fieldsOf(kind.value).map(([n, t, p]) => field(n, t, p, values[n])));
    };
    const showError = (name, message) => {
      const label = form.querySelector(`label[data-field="${name}"]`);
      if (label === null) result.textContent = message;
      else {
        label.classList.add('invalid');
        label.querySelector('.field-error').textContent = message;
      }
    };
    kind.addEventListener('change', () => render());
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      form.querySelectorAll('label.invalid').forEach((l) => l.classList.remove('invalid'));
      form.querySelectorAll('.field-error').forEach((s) => (s.textContent = ''));
      result.textContent = '';
      const spec = { id: id.querySelector('input').value.trim(), kind: kind.value, severity: severity.value };
      let ok = true;
      for (const [name, type] of fieldsOf(kind.value)) {
        const text = form.querySelector(`input[name="${name}"]`).value.trim();
        if (text === '') continue;
        const { value, error } = parsed(type, text);
        if (error !== undefined) {
          showError(name, error);
          ok = false;
        } else spec[name] = value;
      }
      if (!ok) return;
      save(spec).then(
        (message) => {
          result.textContent = message;
        },
        (err) => showError(err.field ?? '', err.message),
      );
    });
    render();
    return {
      /** Fills the form with a rule, to change it. */
      edit(rule) {
        kind.value = rule.kind in KINDS ? rule.kind : 'threshold';
        severity.value = rule.severity ?? 'warning';
        id.querySelector('input').value = rule.id;
        render(rule);
      },
    };
  }

  /** One line that says what a rule does, for the rules list. */
  function describe(r) {
    const own = Object.keys(r.overrides ?? {});
    const scope = [
      r.sensors ? ` · sensors ${r.sensors.join(', ')}` : '',
      r.sensorLabels
        ? ` · sensors with ${Object.entries(r.sensorLabels)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')}`
        : '',
      own.length > 0 ? ` · own thresholds: ${own.join(', ')}` : '',
    ].join('');
    return what(r) + scope;
  }

  function what(r) {
    const bounds = [
      r.above === undefined ? '' : `above ${r.above}`,
      r.below === undefined ? '' : `below ${r.below}`,
    ]
      .filter(Boolean)
      .join(' or ');
    // A rule set at run time reads as written ("20s"); one from the config file as parsed (ms).
    const seconds = (ms) => `${ms / 1000}s`;
    const held = r.minDuration ?? (r.minDurationMs ? seconds(r.minDurationMs) : undefined);
    const pending = held && held !== '0s' && held !== 0 ? ` for ${held}` : '';
    switch (r.kind) {
      case 'threshold':
        return `${r.metric} ${bounds}${pending}`;
      case 'aggregate':
        return `${r.aggregate} of ${r.metric} in ${r.window} ${bounds}${pending}`;
      case 'count':
        return `more than ${r.above} ${r.metric} in ${r.window}`;
      case 'outlier':
        return `${r.metric} beyond z-score ${r.zScore}`;
      case 'rate-of-change':
        return `${r.metric} changing faster than ${r.maxPerSecond}/s`;
      case 'silence':
        return `nothing sent for ${r.after ?? seconds(r.afterMs)}`;
      default:
        return JSON.stringify(r);
    }
  }

  return { mount, describe };
})();
