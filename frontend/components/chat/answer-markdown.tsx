"use client";

import { memo, useMemo } from "react";
import ReactMarkdown, { type Components } from "react-markdown";
import remarkCitations from "@/lib/remark-citations";

interface Props {
  text: string;
  /** Source numbers that can be shown; markers for others render inert. */
  knownSources?: ReadonlySet<number> | undefined;
  onCite?: ((n: number) => void) | undefined;
}

/**
 * The answer as markdown, rendered without raw HTML (it is shown as text: answers quote
 * untrusted documents) and with `[n]` markers turned into superscript citation badges.
 */
export const AnswerMarkdown = memo(function AnswerMarkdown({ text, knownSources, onCite }: Props) {
  const components = useMemo<Components>(
    () => ({
      sup({ node: _node, children, ...props }) {
        const cite = (props as Record<string, unknown>)["data-cite"];
        if (typeof cite !== "string") return <sup>{children}</sup>;
        const n = Number(cite);
        const known = knownSources === undefined || knownSources.has(n);
        return (
          <sup className="cite-sup">
            <button
              type="button"
              className={`cite${known ? "" : " is-unknown"}`}
              data-testid="citation-marker"
              data-n={n}
              aria-label={`Source ${n}`}
              title={known ? `Show source ${n}` : `Source ${n}`}
              onClick={() => onCite?.(n)}
            >
              {n}
            </button>
          </sup>
        );
      },
      a({ node: _node, href, children }) {
        return (
          <a href={href} target="_blank" rel="noopener noreferrer nofollow">
            {children}
          </a>
        );
      },
      // No remote images from untrusted text: show the alt text instead.
      img({ alt }) {
        return <span className="md-image-alt">{alt ? `[image: ${alt}]` : "[image]"}</span>;
      },
    }),
    [knownSources, onCite],
  );
  return (
    <div className="markdown">
      <ReactMarkdown remarkPlugins={[remarkCitations]} components={components}>
        {text}
      </ReactMarkdown>
    </div>
  );
});
