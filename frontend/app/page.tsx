import { DocentApp } from "@/components/docent-app";

export default function HomePage() {
  return <DocentApp />;
}
