import jsQR from 'jsqr';
import { PNG } from 'pngjs';

const PIXELS_PER_MODULE = 8;

/**
 * Reads a QR code as a scanner would: the SVG `qrcode` writes (a viewBox of N modules, one stroked path of
 * horizontal runs `M x y+0.5 h n m dx dy h n …`) drawn into pixels, then decoded by jsQR. Null when no code is found.
 */
export function decodeQrSvg(svg: string): string | null {
  const size = Number(/viewBox="0 0 (\d+) \1"/.exec(svg)?.[1]);
  const path = /<path stroke="#000000" d="([^"]+)"/.exec(svg)?.[1];
  if (!size || !path) return null;
  const dark = Array.from({ length: size }, () => new Array<boolean>(size).fill(false));
  let x = 0;
  let y = 0;
  for (const [, command, args] of path.matchAll(/([MmhHv])([^MmhHv]*)/g)) {
    const numbers = args
      .trim()
      .split(/[\s,]+/)
      .filter(Boolean)
      .map(Number);
    if (command === 'M') [x, y] = numbers;
    else if (command === 'm') [x, y] = [x + numbers[0], y + numbers[1]];
    else if (command === 'h') {
      for (let column = x; column < x + numbers[0]; column++) dark[Math.floor(y)][column] = true;
      x += numbers[0];
    } else throw new Error(`unexpected path command ${command} in the QR SVG`);
  }
  const side = size * PIXELS_PER_MODULE;
  const pixels = new Uint8ClampedArray(side * side * 4);
  for (let row = 0; row < side; row++) {
    for (let column = 0; column < side; column++) {
      const value = dark[Math.floor(row / PIXELS_PER_MODULE)][Math.floor(column / PIXELS_PER_MODULE)] ? 0 : 255;
      pixels.set([value, value, value, 255], (row * side + column) * 4);
    }
  }
  return jsQR(pixels, side, side)?.data ?? null;
}

/** Reads the QR code in a PNG (a screenshot of the page's QR element). */
export function decodeQrPng(png: Buffer): string | null {
  const image = PNG.sync.read(png);
  return jsQR(new Uint8ClampedArray(image.data), image.width, image.height)?.data ?? null;
}
