/**
 * Globs: `*` any run of characters, `?` one, `[abc]` a set (`[!abc]` its complement), `{a,b}`
 * alternatives; every other character stands for itself.
 *
 * Over file names (`fileGlob`, log sources' `glob`): `*` and `?` stop at `/`, and a dot file matches
 * only a pattern that starts with a dot, as shells have it. Over sensor ids (`idGlob`, rules'
 * `sensors`): ids are no paths, so `*` takes `/` too (`site-a/*` and `*-freezer` both work).
 */
function globRegex(glob: string, any: string, one: string): RegExp {
  let re = '';
  let i = 0;
  let inBraces = false;
  while (i < glob.length) {
    const c = glob[i] ?? '';
    if (c === '*') re += any;
    else if (c === '?') re += one;
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        const body = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
        re += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
        i = end;
      }
    } else if (c === '{') {
      inBraces = true;
      re += '(?:';
    } else if (c === '}' && inBraces) {
      inBraces = false;
      re += ')';
    } else if (c === ',' && inBraces) re += '|';
    else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
    i += 1;
  }
  return new RegExp(`^${re}$`, 's');
}

/** A glob over file names (not paths). */
export function fileGlob(glob: string): (name: string) => boolean {
  const regex = globRegex(glob, '[^/]*', '[^/]');
  const dotOk = glob.startsWith('.');
  return (name) => (dotOk || !name.startsWith('.')) && regex.test(name);
}

/** A glob over ids: any character, `/` and a leading dot included, is matched by `*` and `?`. */
export function idGlob(glob: string): (id: string) => boolean {
  const regex = globRegex(glob, '.*', '.');
  return (id) => regex.test(id);
}
