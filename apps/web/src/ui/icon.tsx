// Stroke icons on a 24×24 grid, drawn here so the console needs no icon font or download.
const paths = {
  incidents: "M12 3 2 20h20L12 3zm0 6v5m0 3v.01",
  fleet: "M4 5h16v10H4zM8 19h8M12 15v4",
  deploy: "M12 3v12m0 0-4-4m4 4 4-4M4 17v3h16v-3",
  users: "M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM2 21c0-4 3-6 7-6s7 2 7 6M17 11a3 3 0 1 0 0-6M22 21c0-3-2-5-5-5",
  audit: "M6 3h9l4 4v14H6zM9 9h6M9 13h6M9 17h4",
  label: "M3 12V4h8l10 10-8 8L3 12zM7.5 7.5v.01",
  dataset: "M4 6c0-2 16-2 16 0v12c0 2-16 2-16 0zM4 6c0 2 16 2 16 0M4 12c0 2 16 2 16 0",
  run: "M6 4v16l14-8z",
  registry: "M4 4h7v7H4zM13 4h7v7h-7zM4 13h7v7H4zM13 13h7v7h-7z",
  more: "M5 12h.01M12 12h.01M19 12h.01",
  system: "M3 12h4l3-7 4 14 3-7h4",
  site: "M3 21V10l6-4v4l6-4v4l6-4v15zM7 17h2M11 17h2M15 17h2",
  user: "M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM4 21c0-4 4-6 8-6s8 2 8 6",
  logout: "M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10",
} as const;

export type IconName = keyof typeof paths;

export function Icon({ name, size = 22 }: { name: IconName; size?: number }) {
  return (
    <svg
      width={size}
      height={size}
      viewBox="0 0 24 24"
      fill="none"
      stroke="currentColor"
      strokeWidth={2}
      strokeLinecap="round"
      strokeLinejoin="round"
      aria-hidden="true"
      focusable="false"
    >
      <path d={paths[name]} />
    </svg>
  );
}
