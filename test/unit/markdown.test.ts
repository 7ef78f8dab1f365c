// The reports' markdown as HTML (loadgen/markdown.ts): tables become <table>s with the
// alignment row honoured, code blocks stay preformatted, and nothing in the text can inject markup.
import { describe, it, expect } from 'vitest';
import { markdownToHtml } from '../../loadgen/markdown.ts';

describe('markdownToHtml', () => {
  it('renders a pipe table as an HTML table, right-aligning the columns marked ---:', () => {
    const html = markdownToHtml('| reads % | ops/s |\n| --- | ---: |\n| 50 | 38,903 |\n| 100 | 80,612 |');
    expect(html).toBe(
      '<table>\n<thead><tr><th style="text-align:left">reads %</th><th style="text-align:right">ops/s</th></tr></thead>\n' +
        '<tbody><tr><td style="text-align:left">50</td><td style="text-align:right">38,903</td></tr>\n' +
        '<tr><td style="text-align:left">100</td><td style="text-align:right">80,612</td></tr></tbody>\n</table>',
    );
  });

  it('renders headings, lists, paragraphs and code blocks, with inline code and bold', () => {
    const html = markdownToHtml('## Setup\n\n- seed `42`\n- **3** repeats\n\nfirst line\nsecond line\n\n```\nzk repeat 1\n  a  b\n```');
    expect(html).toBe('<h2>Setup</h2>\n<ul>\n<li>seed <code>42</code></li>\n<li><strong>3</strong> repeats</li>\n</ul>\n<p>first line second line</p>\n<pre>zk repeat 1\n  a  b</pre>');
  });

  it('escapes every piece of text, in cells, code and paragraphs', () => {
    const html = markdownToHtml('# <b>x</b>\n\n| <img> | a&b |\n| --- | --- |\n| "q" | <script> |\n\n```\n</pre><script>\n```\n<i>p</i>');
    expect(html).not.toMatch(/<(b|img|script|i)>/);
    expect(html).toContain('&lt;script&gt;');
    expect(html).toContain('a&amp;b');
    expect(html).toContain('<pre>&lt;/pre&gt;&lt;script&gt;</pre>');
  });
});
