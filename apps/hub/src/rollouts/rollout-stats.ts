/**
 * The rate test the field gates use. Two groups saw n₁ and n₂ frames and counted k₁ and k₂
 * events (incidents, false alarms). If both had the same rate, then given k = k₁ + k₂, k₁ is
 * Binomial(k, n₁ ∕ (n₁ + n₂)): the one-sided p-value of "the wave's rate is higher" is the
 * upper tail P(X ≥ k₁). Exact for any counts, with no normal approximation to break on the
 * small numbers of a canary.
 */
export function rateTestPValue(wave: { count: number; frames: number }, control: { count: number; frames: number }) {
  const k = wave.count + control.count;
  if (k === 0 || wave.frames === 0 || control.frames === 0) return 1;
  const p = wave.frames / (wave.frames + control.frames);
  return binomialUpperTail(wave.count, k, p);
}

/** P(X ≥ x) for X ~ Binomial(n, p), summed in log space from the mode outwards. */
export function binomialUpperTail(x: number, n: number, p: number): number {
  if (x <= 0) return 1;
  if (x > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  const logPmf = (i: number) => logChoose(n, i) + i * Math.log(p) + (n - i) * Math.log1p(-p);
  // terms fall away geometrically past the mode: stop once they no longer change the sum
  let sum = 0;
  const first = logPmf(x);
  for (let i = x; i <= n; i++) {
    const term = Math.exp(logPmf(i) - first);
    sum += term;
    if (i > n * p && term < 1e-16 * sum) break;
  }
  return Math.min(1, Math.exp(first) * sum);
}

function logChoose(n: number, k: number): number {
  return logFactorial(n) - logFactorial(k) - logFactorial(n - k);
}

const LOG_FACTORIALS: number[] = [0];
function logFactorial(n: number): number {
  if (n < 1024) {
    for (let i = LOG_FACTORIALS.length; i <= n; i++) LOG_FACTORIALS[i] = LOG_FACTORIALS[i - 1]! + Math.log(i);
    return LOG_FACTORIALS[n]!;
  }
  // Stirling's series: exact to double precision from here on
  return n * Math.log(n) - n + 0.5 * Math.log(2 * Math.PI * n) + 1 / (12 * n) - 1 / (360 * n ** 3);
}
