/** The animated "working" line shown before an answer's first token. */
export function Thinking({ children }: { children: React.ReactNode }) {
  return (
    <div className="thinking">
      <span className="dots" aria-hidden="true">
        <span />
        <span />
        <span />
      </span>
      {children}
    </div>
  );
}
