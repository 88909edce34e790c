import { errorMessage, type Logger } from '../../core/logger.js';
import type { Alert, Notifier } from '../../core/ports.js';

/** The local stack's alert channel of last resort: one structured log line per alert. */
export function logNotifier(log: Logger): Notifier {
  return {
    async notify(alert: Alert) {
      // The alert's own message goes in `detail`: a log line's `message` stays the constant 'alert'.
      const fields = {
        alert: alert.type,
        app: alert.app,
        database: alert.database,
        transfer: alert.transferId,
        detail: alert.message,
        at: alert.at,
      };
      // Failures and misses need someone's attention; a completion is news.
      if (alert.type === 'transfer.completed') log.info('alert', fields);
      else if (alert.type === 'transfer.failed') log.error('alert', fields);
      else log.warn('alert', fields);
    },
  };
}

/**
 * Sends each alert to every notifier. One channel failing (a webhook that is down) neither stops the others nor
 * reaches the caller, whose transfer has already been recorded: it is logged.
 */
export function multiNotifier(notifiers: readonly Notifier[], log: Logger): Notifier {
  return {
    async notify(alert: Alert) {
      const results = await Promise.allSettled(notifiers.map((n) => n.notify(alert)));
      for (const r of results) {
        if (r.status === 'rejected') {
          log.error('alert not delivered', {
            alert: alert.type,
            app: alert.app,
            error: errorMessage(r.reason),
          });
        }
      }
    },
  };
}
