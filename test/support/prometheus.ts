import { createRequire } from 'node:module';

/** One sample: its labels and value (histograms' buckets, sum and count come as their own names). */
export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

interface ParsedFamily {
  readonly name: string;
  readonly type: string;
  readonly metrics: readonly {
    readonly labels?: Record<string, string>;
    readonly value?: string;
    readonly buckets?: Record<string, string>;
    readonly count?: string;
    readonly sum?: string;
  }[];
}

// parse-prometheus-text-format: an independent parser of the exposition format, with no types.
const parse = createRequire(import.meta.url)('parse-prometheus-text-format') as (
  text: string,
) => ParsedFamily[];

/**
 * Parses Prometheus' text exposition format (throws on text that is not) into samples by name; a
 * histogram `h` gives an `h_count` sample per label set.
 */
export function parsePrometheus(text: string): Map<string, Sample[]> {
  const out = new Map<string, Sample[]>();
  const add = (name: string, sample: Sample): void => {
    out.set(name, [...(out.get(name) ?? []), sample]);
  };
  for (const family of parse(text)) {
    for (const m of family.metrics) {
      const labels = m.labels ?? {};
      if (family.type === 'HISTOGRAM') {
        // This parser keeps a histogram's buckets only (not its labels, sum or count): the +Inf
        // bucket is the count.
        add(`${family.name}_count`, { labels, value: Number(m.buckets?.['+Inf'] ?? m.count) });
      } else add(family.name, { labels, value: Number(m.value) });
    }
  }
  return out;
}
