/**
 * The Kensa mark: a reticle over a surface. Drawn as SVG rather than the 検 glyph, which
 * renders as a blank box on machines without CJK fonts (most shop-floor kiosks and servers).
 */
export function Logo({ size = 28 }: { size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 32 32" aria-hidden="true" focusable="false" className="logo">
      <rect width="32" height="32" rx="7" fill="currentColor" />
      <circle cx="16" cy="16" r="7.5" fill="none" stroke="var(--logo-fg, #fff)" strokeWidth="2.5" />
      <path
        d="M16 4.5v5M16 22.5v5M4.5 16h5M22.5 16h5"
        stroke="var(--logo-fg, #fff)"
        strokeWidth="2.5"
        strokeLinecap="round"
      />
      <circle cx="16" cy="16" r="2" fill="#f59e0b" />
    </svg>
  );
}
