-- WITHOUT ROWID is hand-written (drizzle cannot declare it): one B-tree keyed by the digest, no hidden rowid.
CREATE TABLE `webhook_signatures` (
	`digest` blob PRIMARY KEY NOT NULL,
	`received_at` integer NOT NULL
) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX `webhook_signatures_received` ON `webhook_signatures` (`received_at`,`digest`);
