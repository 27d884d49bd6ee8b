/*
 * promql: just enough of PromQL's lexical structure to list what an
 * expression reads: the metric names, the label names of its selectors
 * ({label="..."}) and of its grouping clauses (by, without, on,
 * ignoring, group_left, group_right), and the Grafana variables it
 * uses.  Strings are dropped first (a label value may hold anything),
 * then ranges ([5m], [$__rate_interval]).  Not a parser: a bracket
 * that does not close is reported as an error instead.
 */

const KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right",
  "bool", "and", "or", "unless", "offset", "inf", "nan", "atan2"]);
const GROUPING = /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)/g;

/* Returns {metrics: Set, selectorLabels: [[metric, label]], groupLabels: Set, variables: Set, errors: []}. */
export function analyse(expr) {
  const errors = [];
  const variables = new Set();
  /* Grafana variables: $name, ${name}, [[name]]. */
  for (const m of expr.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g)) variables.add(m[1]);

  /* Strings out (kept as "" so selectors stay well formed). */
  let s = "";
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      while (j < expr.length && expr[j] !== c) j += expr[j] === "\\" && c !== "`" ? 2 : 1;
      if (j >= expr.length) errors.push(`unterminated string at ${i}`);
      s += '""';
      i = j;
    } else {
      s += c;
    }
  }

  /* Brackets must balance. */
  const stack = [];
  const pairs = {")": "(", "]": "[", "}": "{"};
  for (const c of s) {
    if ("([{".includes(c)) stack.push(c);
    else if (pairs[c]) {
      if (stack.pop() !== pairs[c]) errors.push(`unbalanced '${c}'`);
    }
  }
  if (stack.length) errors.push(`unclosed '${stack.join("")}'`);

  s = s.replace(/\[[^\]]*\]/g, " ");

  const groupLabels = new Set();
  s = s.replace(GROUPING, (m, kw, list) => {
    for (const l of list.split(",").map((x) => x.trim()).filter(Boolean)) groupLabels.add(l);
    return " ";
  });

  /* Selectors: metric{...} or a bare {...} (then __name__ says). */
  const metrics = new Set();
  const selectorLabels = [];
  s = s.replace(/([A-Za-z_:][A-Za-z0-9_:]*)?\s*\{([^{}]*)\}/g, (m, name, body) => {
    for (const part of body.split(",").map((x) => x.trim()).filter(Boolean)) {
      const lm = part.match(/^([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*""$/);
      if (!lm) {
        errors.push(`bad label matcher '${part}'`);
        continue;
      }
      selectorLabels.push([name || null, lm[1]]);
    }
    if (name && !KEYWORDS.has(name)) metrics.add(name);
    return " ";
  });

  /* What is left: bare metric names, functions (followed by "("),
   * keywords, numbers, operators and variables. */
  for (const m of s.matchAll(/(\$?)\b([A-Za-z_:][A-Za-z0-9_:]*)\b(\s*\()?/g)) {
    const [, dollar, name, call] = m;
    if (dollar || call || KEYWORDS.has(name.toLowerCase())) continue;
    if (/^__/.test(name)) continue;
    metrics.add(name);
  }
  return {metrics, selectorLabels, groupLabels, variables, errors};
}

/*
 * The Prometheus text format (0.0.4) as families: Map name ->
 * {type, help, samples: [{name, labels: {}, value}]}.  Lines that are
 * not comments, samples or blank are errors.
 */
export function parseExposition(text) {
  const families = new Map();
  const errors = [];
  const fam = (name) => {
    if (!families.has(name)) families.set(name, {type: "untyped", help: "", samples: []});
    return families.get(name);
  };
  const suffixOf = (name) => {
    for (const sfx of ["_bucket", "_sum", "_count"]) {
      if (name.endsWith(sfx)) {
        const base = name.slice(0, -sfx.length);
        const f = families.get(base);
        if (f && (f.type === "histogram" || f.type === "summary")) return base;
      }
    }
    return name;
  };
  for (const [n, line] of text.split("\n").entries()) {
    if (line === "") continue;
    let m;
    if ((m = line.match(/^# TYPE ([A-Za-z_:][A-Za-z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/))) {
      fam(m[1]).type = m[2];
    } else if ((m = line.match(/^# HELP ([A-Za-z_:][A-Za-z0-9_:]*) ?(.*)$/))) {
      fam(m[1]).help = m[2];
    } else if (line.startsWith("#")) {
      /* other comments are allowed */
    } else if ((m = line.match(/^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/))) {
      const labels = {};
      const body = m[3] || "";
      const re = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/gy;
      let lm;
      let consumed = 0;
      while ((lm = re.exec(body))) {
        labels[lm[1]] = lm[2];
        consumed = re.lastIndex;
      }
      if (consumed !== body.length) errors.push(`line ${n + 1}: bad labels: ${line}`);
      const v = Number(m[4]);
      if (Number.isNaN(v) && !/^(NaN|[+-]?Inf)$/.test(m[4])) errors.push(`line ${n + 1}: bad value: ${line}`);
      fam(suffixOf(m[1])).samples.push({name: m[1], labels, value: v});
    } else {
      errors.push(`line ${n + 1}: not the text format: ${line}`);
    }
  }
  return {families, errors};
}

/* Every series name /metrics can answer a query for: the families, and
 * for histograms their _bucket, _sum and _count. */
export function seriesNames(families) {
  const names = new Map();
  for (const [name, f] of families) {
    if (f.type === "histogram" || f.type === "summary") {
      for (const sfx of ["_bucket", "_sum", "_count"]) names.set(name + sfx, f);
    } else {
      names.set(name, f);
    }
  }
  return names;
}
