"use client";

import { useCallback, useEffect, useState } from "react";
import { deleteConversation, describeError, getConversation, listConversations } from "@/lib/api";
import type { ConversationDetail, ConversationSummary } from "@/lib/schemas";

export interface ConversationsState {
  conversations: ConversationSummary[];
  error: string | null;
  refresh: () => Promise<void>;
  load: (id: string) => Promise<ConversationDetail | null>;
  remove: (id: string) => Promise<boolean>;
}

/** Past conversations for the sidebar (`GET /api/conversations`). */
export function useConversations(): ConversationsState {
  const [conversations, setConversations] = useState<ConversationSummary[]>([]);
  const [error, setError] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    try {
      setConversations(await listConversations());
      setError(null);
    } catch (err) {
      setError(describeError(err));
    }
  }, []);

  const load = useCallback(async (id: string) => {
    try {
      const detail = await getConversation(id);
      setError(null);
      return detail;
    } catch (err) {
      setError(`Could not open the conversation: ${describeError(err)}`);
      return null;
    }
  }, []);

  const remove = useCallback(
    async (id: string) => {
      try {
        await deleteConversation(id);
        setConversations((list) => list.filter((c) => c.id !== id));
        return true;
      } catch (err) {
        setError(`Could not delete the conversation: ${describeError(err)}`);
        return false;
      }
    },
    [],
  );

  useEffect(() => {
    void refresh();
  }, [refresh]);

  return { conversations, error, refresh, load, remove };
}
