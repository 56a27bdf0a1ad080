// The rules in force, and the form that edits them (with an admin token).
import { $, api, el, showError, state } from './lib.js';
import { loadStationRules } from './station.js';

// ---- rules ----

export async function refreshRules() {
  const { editable, rules } = await api('/api/rules');
  state.rules = rules;
  $('rules-mode').textContent = editable
    ? '(cluster-wide, editable with an admin token)'
    : '(from the config file)';
  if (editable && state.ruleForm === undefined) {
    $('rule-form').hidden = false;
    state.ruleForm = vigilRuleForm.mount($('rule-form'), saveRule);
  }
  $('rules').replaceChildren(
    ...rules.map((r) => {
      const li = el('li');
      li.dataset.rule = r.id;
      li.title = JSON.stringify(r);
      li.append(
        el('span', `sev-${r.severity ?? 'warning'}`, r.severity ?? 'warning'),
        el('span', 'rule', r.id),
      );
      li.append(el('span', 'msg', `${r.kind}: ${vigilRuleForm.describe(r)}`));
      if (editable) {
        const edit = el('button', '', 'edit');
        edit.addEventListener('click', () => state.ruleForm.edit(r));
        const del = el('button', '', 'delete');
        del.addEventListener('click', () => {
          api(`/api/rules/${encodeURIComponent(r.id)}`, { method: 'DELETE' })
            .then(refreshRules)
            .catch((err) => showError(String(err)));
        });
        li.append(edit, del);
      }
      return li;
    }),
  );
  await loadStationRules();
}

/** Sends a rule from the form; a refusal comes back with the key it is about. */
async function saveRule(spec) {
  try {
    const r = await api('/api/rules', {
      method: 'PUT',
      body: JSON.stringify(spec),
      headers: { 'content-type': 'application/json' },
    });
    await refreshRules();
    return `rule ${r.id} in force (version ${r.version})`;
  } catch (err) {
    const refused = new Error(err.reason || err.message);
    refused.field = err.field;
    throw refused;
  }
}
