CREATE TABLE `idempotency_keys` (
	`key` text PRIMARY KEY NOT NULL,
	`request_hash` text NOT NULL,
	`message_id` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`message_id`) REFERENCES `messages`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `outbox` (
	`message_id` text PRIMARY KEY NOT NULL,
	`provider` text NOT NULL,
	`attempts` integer NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`message_id`) REFERENCES `messages`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `outbox_provider` ON `outbox` (`provider`,`message_id`);--> statement-breakpoint
CREATE TABLE `send_attempts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`message_id` text NOT NULL,
	`provider` text NOT NULL,
	`outcome` text NOT NULL,
	`error_class` text,
	`error_code` text,
	`error_message` text,
	`http_status` integer,
	`provider_message_id` text,
	`started_at` integer NOT NULL,
	`duration_ms` integer NOT NULL,
	FOREIGN KEY (`message_id`) REFERENCES `messages`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `send_attempts_message` ON `send_attempts` (`message_id`);--> statement-breakpoint
DROP INDEX `messages_created_at`;--> statement-breakpoint
ALTER TABLE `messages` ADD `status_callback` text;--> statement-breakpoint
-- Replies queued before the send pipeline existed (stored as queued outbound messages, never sent) join the outbox.
INSERT INTO `outbox` (`message_id`, `provider`, `attempts`, `next_attempt_at`, `created_at`)
SELECT `id`, `provider`, 0, `created_at`, `created_at` FROM `messages`
WHERE `direction` = 'outbound' AND `status` = 'queued' AND `provider_message_id` IS NULL;
