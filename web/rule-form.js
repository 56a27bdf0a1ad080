// The dashboard's rule form: one field per key of the chosen kind (as in the config's pipeline.rules),
// checked as typed where the browser can (numbers), and by the server for everything else; the
// server's reason is shown next to the field it names. Loaded before app.js, which calls
// vigilRuleForm.mount(...) and vigilRuleForm.describe(rule).
'use strict';

window.vigilRuleForm = (() => {
  const NUMBER = 'number';
  const TEXT = 'text';
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

  function field(name, type, placeholder, value) {
    const label = document.createElement('label');
    label.dataset.field = name;
    label.append(document.createTextNode(name));
    const input = document.createElement('input');
    input.name = name;
    input.type = 'text';
    input.inputMode = type === NUMBER ? 'decimal' : 'text';
    input.placeholder = placeholder;
    input.value = value === undefined ? '' : String(value);
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
      fields.replaceChildren(...KINDS[kind.value].map(([n, t, p]) => field(n, t, p, values[n])));
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
      for (const [name, type] of KINDS[kind.value]) {
        const text = form.querySelector(`input[name="${name}"]`).value.trim();
        if (text === '') continue;
        if (type === NUMBER && !Number.isFinite(Number(text))) {
          showError(name, 'must be a number');
          ok = false;
        } else spec[name] = type === NUMBER ? Number(text) : text;
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
