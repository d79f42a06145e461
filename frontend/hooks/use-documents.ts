"use client";

import { useCallback, useEffect, useRef, useState } from "react";
import { deleteDocument, describeError, listDocuments } from "@/lib/api";
import type { DocumentInfo } from "@/lib/schemas";

export interface DocumentsState {
  documents: DocumentInfo[];
  loading: boolean;
  error: string | null;
  refresh: () => Promise<void>;
  remove: (document: DocumentInfo) => Promise<boolean>;
}

/** The document library: loaded on mount, refreshed on demand, with delete. */
export function useDocuments(): DocumentsState {
  const [documents, setDocuments] = useState<DocumentInfo[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const latest = useRef<AbortController | null>(null);

  const refresh = useCallback(async () => {
    latest.current?.abort();
    const controller = new AbortController();
    latest.current = controller;
    try {
      const docs = await listDocuments(controller.signal);
      if (controller.signal.aborted) return;
      setDocuments(docs);
      setError(null);
    } catch (err) {
      if (controller.signal.aborted) return;
      setError(describeError(err));
    } finally {
      if (!controller.signal.aborted) setLoading(false);
    }
  }, []);

  const remove = useCallback(
    async (document: DocumentInfo) => {
      try {
        await deleteDocument(document.id);
        setDocuments((docs) => docs.filter((d) => d.id !== document.id));
        setError(null);
        await refresh();
        return true;
      } catch (err) {
        setError(`Could not delete ${document.filename}: ${describeError(err)}`);
        return false;
      }
    },
    [refresh],
  );

  useEffect(() => {
    void refresh();
    return () => latest.current?.abort();
  }, [refresh]);

  return { documents, loading, error, refresh, remove };
}
