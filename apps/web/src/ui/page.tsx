import { type ReactNode, useEffect } from "react";

export interface PageProps {
  title: string;
  /** a line under the title */
  subtitle?: ReactNode;
  /** buttons at the top right (below the title on phones) */
  actions?: ReactNode;
  /** a link back, e.g. <Link to="/fleet">Fleet</Link> */
  back?: ReactNode;
  children: ReactNode;
}

/** The frame of every page: one <h1>, the document title, actions, content. */
export function Page({ title, subtitle, actions, back, children }: PageProps) {
  useEffect(() => {
    document.title = `${title} · Kensa`;
  }, [title]);
  return (
    <div className="page">
      <header className="page-head">
        <div className="page-title">
          {back ? <div className="page-back">{back}</div> : null}
          <h1>{title}</h1>
          {subtitle ? <p className="page-subtitle">{subtitle}</p> : null}
        </div>
        {actions ? <div className="page-actions">{actions}</div> : null}
      </header>
      {children}
    </div>
  );
}

/** A titled block of content inside a page. */
export function Card({ title, actions, children }: { title?: string; actions?: ReactNode; children: ReactNode }) {
  return (
    <section className="card" aria-label={title}>
      {title || actions ? (
        <header className="card-head">
          {title ? <h2>{title}</h2> : <span />}
          {actions}
        </header>
      ) : null}
      {children}
    </section>
  );
}

/** Term/value pairs (device facts, incident facts). */
export function Facts({ items }: { items: ReadonlyArray<[string, ReactNode]> }) {
  return (
    <dl className="facts">
      {items.map(([k, v]) => (
        <div key={k} className="fact">
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}
