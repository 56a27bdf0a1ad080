/**
 * nact actor names may only hold [A-Za-z0-9-$_.+!*'(),]. Sensor ids are free text, so every other
 * character (and `$` itself) is written as `$` plus two hex digits per UTF-8 byte: reversible and
 * readable for the common ids (`st-17` stays `st-17`).
 */
const SAFE = /^[A-Za-z0-9_.-]$/;

export function actorName(prefix: string, id: string): string {
  let out = prefix;
  for (const ch of id) {
    if (SAFE.test(ch)) out += ch;
    else for (const byte of Buffer.from(ch, 'utf8')) out += `$${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** FNV-1a: a fast, stable string hash for spreading sensors over bucket actors. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
