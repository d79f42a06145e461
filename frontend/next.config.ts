import type { NextConfig } from "next";
import { PHASE_DEVELOPMENT_SERVER } from "next/constants";

/**
 * Production builds are a static export (`out/`) that the Python API serves at `/`,
 * so every API call is a same-origin relative URL. `next dev` proxies `/api/*` to a
 * running API (DOCENT_API_URL, default http://127.0.0.1:8000) instead.
 */
export default function config(phase: string): NextConfig {
  const base: NextConfig = {
    reactStrictMode: true,
    poweredByHeader: false,
    eslint: { ignoreDuringBuilds: true },
  };
  if (phase === PHASE_DEVELOPMENT_SERVER) {
    const api = process.env.DOCENT_API_URL ?? "http://127.0.0.1:8000";
    return {
      ...base,
      async rewrites() {
        return [{ source: "/api/:path*", destination: `${api}/api/:path*` }];
      },
    };
  }
  return { ...base, output: "export", images: { unoptimized: true } };
}
