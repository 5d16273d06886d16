/** A source queue with a redrive policy to its own DLQ, and a look into the DLQ, for the reliability suite. */
import { DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, type Message } from "@aws-sdk/client-sqs";
import type { Backend } from "./harness.js";

export async function createQueueWithDlq(backend: Backend, name: string, maxReceiveCount: number, visibilityTimeoutSeconds: number): Promise<{ queueUrl: string; dlqUrl: string }> {
  const dlqUrl = await backend.createQueue(`${name}-dlq`);
  const attrs = await backend.sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ["QueueArn"] }));
  const queueUrl = await backend.createQueue(name, {
    VisibilityTimeout: String(visibilityTimeoutSeconds),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: attrs.Attributes?.QueueArn, maxReceiveCount }),
  });
  return { queueUrl, dlqUrl };
}

/** Receives (and deletes) everything in a queue, straight from the emulator. */
export async function drainQueue(backend: Backend, queueUrl: string): Promise<Message[]> {
  const out: Message[] = [];
  for (;;) {
    const r = await backend.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageSystemAttributeNames: ["All"], MessageAttributeNames: ["All"] }),
    );
    if (!r.Messages?.length) return out;
    for (const m of r.Messages) {
      out.push(m);
      await backend.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
    }
  }
}
