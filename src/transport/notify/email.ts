import { readFileSync } from 'node:fs';
import { createTransport, type Transporter } from 'nodemailer';
import type { SinkConfig } from '../../config/load.js';
import { alertSubject, renderReport, reportFileName } from '../../core/notify.js';
import type { Alert } from '../../core/outputs.js';
import { DeliveryError, smtpErrorRetriable, type Sink } from './sink.js';

type EmailConfig = Extract<SinkConfig, { kind: 'email' }>;

/**
 * Sends each alert by SMTP (nodemailer): the report as the body, and attached as a text file when the
 * alert has a report (a count rule's window: for a log source, its lines per level and ERROR lines).
 * The Message-ID is derived from the alert id, so a mail system can drop a repeat.
 */
export class EmailSink implements Sink {
  readonly kind = 'email';
  readonly id: string;
  private readonly transport: Transporter;

  constructor(private readonly c: EmailConfig) {
    this.id = c.id;
    const { smtp } = c;
    this.transport = createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: smtp.secure,
      requireTLS: smtp.requireTls,
      connectionTimeout: c.timeoutMs,
      greetingTimeout: c.timeoutMs,
      socketTimeout: c.timeoutMs,
      ...(smtp.username === undefined ? {} : { auth: { user: smtp.username, pass: smtp.password ?? '' } }),
      ...(smtp.tls === undefined
        ? {}
        : {
            tls: {
              rejectUnauthorized: smtp.tls.rejectUnauthorized,
              ...(smtp.tls.ca === undefined ? {} : { ca: readFileSync(smtp.tls.ca) }),
              ...(smtp.tls.cert === undefined ? {} : { cert: readFileSync(smtp.tls.cert) }),
              ...(smtp.tls.key === undefined ? {} : { key: readFileSync(smtp.tls.key) }),
            },
          }),
    });
  }

  async deliver(alert: Alert): Promise<void> {
    const text = renderReport(alert);
    try {
      await this.transport.sendMail({
        from: this.c.from,
        to: [...this.c.to],
        subject: alertSubject(alert),
        text,
        messageId: `<${alert.id}@vigil>`,
        headers: { 'X-Vigil-Alert-Id': alert.id },
        attachments:
          alert.report === undefined
            ? []
            : [{ filename: reportFileName(alert), content: text, contentType: 'text/plain; charset=utf-8' }],
      });
    } catch (err) {
      const e = err as { responseCode?: number; code?: string; message?: string };
      throw new DeliveryError(`SMTP ${this.c.smtp.host}:${this.c.smtp.port}: ${e.message ?? String(err)}`, {
        retriable: smtpErrorRetriable(e),
        cause: err,
      });
    }
  }

  close(): Promise<void> {
    this.transport.close();
    return Promise.resolve();
  }
}
