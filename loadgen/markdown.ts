// The little markdown the reports write, as HTML: headings, paragraphs, "- " lists, pipe
// tables (with their alignment row) and ``` code blocks; inline `code` and **bold**. It is
// not a general markdown parser: it renders what bench/compare.ts and loadgen write, and
// anything else as an escaped paragraph, so no input can inject markup.
import { escapeHtml } from './report.ts';

function inline(text: string): string {
  // escape first, then mark up what was escaped: backticks and asterisks are not touched by escaping
  return escapeHtml(text)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');
}

const isTableRow = (line: string) => line.startsWith('|') && line.trimEnd().endsWith('|');

function cells(line: string): string[] {
  const inner = line.trim().slice(1, -1);
  return inner.split('|').map((c) => c.trim());
}

function table(rows: string[]): string {
  const header = cells(rows[0]);
  const hasAlign = rows.length > 1 && /^\|[\s:|-]+\|$/.test(rows[1].trim());
  const aligns = hasAlign ? cells(rows[1]).map((c) => (c.endsWith(':') ? (c.startsWith(':') ? 'center' : 'right') : 'left')) : header.map(() => 'left');
  const body = rows.slice(hasAlign ? 2 : 1);
  const td = (tag: string, text: string, i: number) => `<${tag} style="text-align:${aligns[i] ?? 'left'}">${inline(text)}</${tag}>`;
  return [
    '<table>',
    `<thead><tr>${header.map((h, i) => td('th', h, i)).join('')}</tr></thead>`,
    `<tbody>${body.map((r) => `<tr>${cells(r).map((c, i) => td('td', c, i)).join('')}</tr>`).join('\n')}</tbody>`,
    '</table>',
  ].join('\n');
}

export function markdownToHtml(md: string): string {
  const lines = md.split('\n');
  const out: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.startsWith('```')) {
      const code: string[] = [];
      for (i++; i < lines.length && !lines[i].startsWith('```'); i++) code.push(lines[i]);
      i++; // the closing fence (or the end)
      out.push(`<pre>${escapeHtml(code.join('\n'))}</pre>`);
      continue;
    }
    const heading = /^(#{1,6}) (.*)$/.exec(line);
    if (heading !== null) {
      const level = heading[1].length;
      out.push(`<h${level}>${inline(heading[2])}</h${level}>`);
      i++;
      continue;
    }
    if (isTableRow(line)) {
      const rows: string[] = [];
      for (; i < lines.length && isTableRow(lines[i]); i++) rows.push(lines[i]);
      out.push(table(rows));
      continue;
    }
    if (line.startsWith('- ')) {
      const items: string[] = [];
      for (; i < lines.length && lines[i].startsWith('- '); i++) items.push(`<li>${inline(lines[i].slice(2))}</li>`);
      out.push(`<ul>\n${items.join('\n')}\n</ul>`);
      continue;
    }
    if (line.trim() === '') {
      i++;
      continue;
    }
    const para: string[] = [];
    for (; i < lines.length && lines[i].trim() !== '' && !lines[i].startsWith('```') && !lines[i].startsWith('#') && !isTableRow(lines[i]) && !lines[i].startsWith('- '); i++) {
      para.push(lines[i]);
    }
    out.push(`<p>${inline(para.join(' '))}</p>`);
  }
  return out.join('\n');
}
