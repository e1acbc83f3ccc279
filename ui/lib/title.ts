/** The browser tab's title per view: `<what> · storyteller`. */
import { useEffect } from "preact/hooks";

/** Sets the document title while the calling component shows `what` (empty: just "storyteller"). */
export function useTitle(what: string): void {
  useEffect(() => {
    document.title = what ? `${what} · storyteller` : "storyteller";
  }, [what]);
}
