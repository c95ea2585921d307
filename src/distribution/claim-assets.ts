/**
 * The card designs the claim page shows, as SVG served under /claim/assets/<name>.svg (no external fetch, no
 * script: plain shapes and text). A design code without its own artwork gets the default one.
 */
export const CLAIM_DESIGNS = ['classic', 'spring_festival', 'default'] as const;
export type ClaimDesign = (typeof CLAIM_DESIGNS)[number];

export function claimDesignOf(design: string): ClaimDesign {
  return (CLAIM_DESIGNS as readonly string[]).includes(design) ? (design as ClaimDesign) : 'default';
}

const frame = (defs: string, body: string) =>
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 856 540" width="856" height="540" role="img">` +
  `<defs>${defs}</defs>${body}</svg>\n`;

const SVGS: Record<ClaimDesign, string> = {
  classic: frame(
    '<linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#1f2a44"/><stop offset="1" stop-color="#3b4d7a"/></linearGradient>' +
      '<linearGradient id="gold" x1="0" y1="0" x2="1" y2="0"><stop offset="0" stop-color="#c9a45c"/><stop offset="1" stop-color="#f1d99b"/></linearGradient>',
    '<rect width="856" height="540" rx="36" fill="url(#g)"/>' +
      '<rect x="24" y="24" width="808" height="492" rx="24" fill="none" stroke="url(#gold)" stroke-width="3"/>' +
      '<circle cx="720" cy="130" r="70" fill="none" stroke="url(#gold)" stroke-width="6"/>' +
      '<circle cx="720" cy="130" r="46" fill="url(#gold)" opacity="0.35"/>' +
      '<text x="64" y="120" font-family="serif" font-size="54" fill="#f1d99b">福利卡</text>' +
      '<text x="64" y="170" font-family="sans-serif" font-size="26" fill="#c9d3ea" letter-spacing="6">WELFARE CARD</text>',
  ),
  spring_festival: frame(
    '<radialGradient id="r" cx="0.3" cy="0.3" r="0.9"><stop offset="0" stop-color="#e8453c"/><stop offset="1" stop-color="#9e1b1b"/></radialGradient>',
    '<rect width="856" height="540" rx="36" fill="url(#r)"/>' +
      '<g fill="#f6c75b"><circle cx="700" cy="70" r="10"/><circle cx="760" cy="110" r="6"/><circle cx="640" cy="120" r="5"/></g>' +
      '<g transform="translate(690 260)"><rect x="-70" y="-70" width="140" height="140" transform="rotate(45)" fill="#f6c75b"/>' +
      '<text x="0" y="32" text-anchor="middle" font-family="serif" font-size="96" fill="#9e1b1b">福</text></g>' +
      '<g stroke="#f6c75b" stroke-width="3" fill="none"><path d="M80 40 v40"/><ellipse cx="80" cy="110" rx="34" ry="30"/><path d="M80 140 v30"/></g>' +
      '<text x="64" y="240" font-family="serif" font-size="58" fill="#fbe3a4">新春快乐</text>' +
      '<text x="64" y="290" font-family="sans-serif" font-size="24" fill="#fbe3a4" letter-spacing="5">HAPPY SPRING FESTIVAL</text>',
  ),
  default: frame(
    '<linearGradient id="d" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#0f766e"/><stop offset="1" stop-color="#14b8a6"/></linearGradient>',
    '<rect width="856" height="540" rx="36" fill="url(#d)"/>' +
      '<circle cx="760" cy="80" r="160" fill="#ffffff" opacity="0.08"/><circle cx="120" cy="520" r="200" fill="#ffffff" opacity="0.06"/>' +
      '<text x="64" y="120" font-family="sans-serif" font-size="52" fill="#ffffff">福利卡</text>' +
      '<text x="64" y="168" font-family="sans-serif" font-size="24" fill="#ccfbf1" letter-spacing="6">GIFT CARD</text>',
  ),
};

/** The SVG of an asset name (`classic.svg`, …), or null for anything else. */
export function claimAsset(name: string): string | null {
  const match = /^([a-z_]+)\.svg$/.exec(name);
  if (!match || !(CLAIM_DESIGNS as readonly string[]).includes(match[1])) return null;
  return SVGS[match[1] as ClaimDesign];
}
