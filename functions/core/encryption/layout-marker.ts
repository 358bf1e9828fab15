/**
 * A multipart object's layout (part numbers and each part's plaintext length) as one short marker: runs of
 * consecutive part numbers with equal lengths, `first[-last]:length`, comma-separated. The usual upload
 * (equal parts and a shorter last one) is two runs whatever its part count, which keeps the marker well
 * inside S3's 2 KB metadata limit. Parsing is strict and bounded; anything else is refused.
 */
import { MAX_PART_NUMBER, MAX_PLAINTEXT_LENGTH } from '../crypto/index.js';

export interface Layout {
  partNumbers: number[];
  lengths: number[];
}

export function encodeLayout(layout: Layout): string {
  const runs: string[] = [];
  let i = 0;
  while (i < layout.partNumbers.length) {
    let j = i;
    while (
      j + 1 < layout.partNumbers.length &&
      layout.partNumbers[j + 1] === layout.partNumbers[j] + 1 &&
      layout.lengths[j + 1] === layout.lengths[i]
    ) {
      j++;
    }
    const first = layout.partNumbers[i];
    const last = layout.partNumbers[j];
    runs.push(`${first === last ? first : `${first}-${last}`}:${layout.lengths[i]}`);
    i = j + 1;
  }
  return runs.join(',');
}

export function decodeLayout(marker: string): Layout {
  const partNumbers: number[] = [];
  const lengths: number[] = [];
  for (const run of marker.split(',')) {
    const match = /^(\d{1,5})(?:-(\d{1,5}))?:(\d{1,16})$/.exec(run);
    if (!match) throw new Error('malformed layout marker');
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    const length = Number(match[3]);
    if (first < 1 || last < first || last > MAX_PART_NUMBER || length > MAX_PLAINTEXT_LENGTH) {
      throw new Error('layout marker out of bounds');
    }
    for (let n = first; n <= last; n++) {
      if (partNumbers.length > 0 && n <= partNumbers[partNumbers.length - 1]) {
        throw new Error('layout marker parts not ascending');
      }
      partNumbers.push(n);
      lengths.push(length);
    }
  }
  return { partNumbers, lengths };
}
