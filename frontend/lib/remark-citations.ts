/**
 * A remark plugin that turns `[n]` markers inside markdown text into `<sup data-cite="n">`
 * elements, which the answer renderer maps to clickable badges. Only `text` nodes are
 * touched, so markers inside code spans and code blocks stay literal.
 */
import { splitCitationMarkers } from "@/lib/citations";

interface MdNode {
  type: string;
  value?: string;
  children?: MdNode[];
  data?: Record<string, unknown>;
}

function markerNode(n: number): MdNode {
  return {
    type: "citationMarker",
    data: { hName: "sup", hProperties: { dataCite: String(n), className: ["cite-sup"] } },
    children: [{ type: "text", value: String(n) }],
  };
}

function transform(node: MdNode): void {
  if (!node.children) return;
  const next: MdNode[] = [];
  for (const child of node.children) {
    if (child.type === "text" && typeof child.value === "string" && child.value.includes("[")) {
      for (const seg of splitCitationMarkers(child.value)) {
        next.push(seg.type === "text" ? { type: "text", value: seg.value } : markerNode(seg.n));
      }
    } else {
      transform(child);
      next.push(child);
    }
  }
  node.children = next;
}

export default function remarkCitations() {
  return (tree: unknown): void => {
    transform(tree as MdNode);
  };
}
