"use client";

import { useCallback } from "react";
import { ChatPanel } from "@/components/chat/chat-panel";
import { ConversationList } from "@/components/sidebar/conversation-list";
import { DocumentList } from "@/components/sidebar/document-list";
import { UploadPanel } from "@/components/sidebar/upload-panel";
import { useConversations } from "@/hooks/use-conversations";
import { useDocentChat } from "@/hooks/use-docent-chat";
import { useDocuments } from "@/hooks/use-documents";
import { useUpload } from "@/hooks/use-upload";

/** The whole single-page app: library on the left, chat on the right. */
export function DocentApp() {
  const documents = useDocuments();
  const { refresh: refreshDocuments } = documents;
  const upload = useUpload(
    useCallback(() => {
      void refreshDocuments();
    }, [refreshDocuments]),
  );
  const conversations = useConversations();
  const { refresh: refreshConversations, load: loadConversation, remove: removeConversation } = conversations;
  const chat = useDocentChat({
    onTurnFinished: () => {
      void refreshConversations();
    },
  });
  const { openConversation, newConversation, conversationId } = chat;

  const onOpenConversation = useCallback(
    async (id: string) => {
      const detail = await loadConversation(id);
      if (detail) openConversation(detail);
    },
    [loadConversation, openConversation],
  );

  const onDeleteConversation = useCallback(
    async (id: string) => {
      const removed = await removeConversation(id);
      if (removed && id === conversationId) newConversation();
    },
    [removeConversation, conversationId, newConversation],
  );

  return (
    <div className="app">
      <aside className="sidebar" aria-label="Library">
        <header className="brand">
          <span className="brand-mark" aria-hidden="true">
            d
          </span>
          <div>
            <h1 className="brand-name">docent</h1>
            <p className="brand-tagline">Answers cited from your documents</p>
          </div>
        </header>
        <UploadPanel upload={upload} />
        <DocumentList state={documents} />
        <ConversationList
          state={conversations}
          activeId={conversationId}
          onOpen={onOpenConversation}
          onDelete={onDeleteConversation}
        />
      </aside>
      <main className="main">
        <ChatPanel chat={chat} documentCount={documents.documents.length} />
      </main>
    </div>
  );
}
