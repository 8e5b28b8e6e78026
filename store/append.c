/*
 * append: events written by this device: seq, prev, HLC, delta causal
 * context, state hash, signature; then the same apply path as received
 * events. Each append runs in a nested transaction: a refused append leaves
 * nothing, the batch goes on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store/rec.h"
#include "store/sdb.h"

static void
errput(char *errmsg, const char *fmt, const char *a)
{
	if (errmsg != NULL)
		snprintf(errmsg, STORE_ERRMSG, fmt, a != NULL ? a : "");
}

static int
is_identity(int type)
{
	return type == EV_DEVICE_ENROLLED || type == EV_DEVICE_INVITED ||
	    type == EV_DEVICE_REVOKED || type == EV_CONFLICT_RESOLVED;
}

/* Builds, signs and applies the event in txn; the frame goes to fb. */
static int
append_in(struct store_batch *b, MDB_txn *txn, int type, const char *entity,
    const uint8_t *payload, size_t plen, uint64_t now_ms, struct buf *fb,
    struct event *ev, uint8_t id[HASH_LEN])
{
	struct store	*s = b->s;
	struct sdb_dev	*d = NULL;
	struct vclock	*base = NULL, *cur = NULL;
	MDB_txn		*trial = NULL;
	uint8_t		 state[HASH_LEN];
	int		 rc, known;

	d = malloc(sizeof(*d));
	base = malloc(sizeof(*base));
	cur = malloc(sizeof(*cur));
	if (d == NULL || base == NULL || cur == NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	rc = sdb_dev_get(txn, s, s->ids.device_id, d);
	if (rc != 0 && rc != CAJA_ENOTFOUND)
		goto out;
	known = rc == 0;
	rc = 0;
	if (!known && type != EV_DEVICE_ENROLLED) {
		rc = CAJA_EUNENROLLED;
		goto out;
	}
	/*
	 * A forked device (its key was used twice, e.g. a data dir restored
	 * from a backup) keeps selling: sales never stop. Its new events stay
	 * here and its peers refuse them until the fork conflict is resolved;
	 * `devices` and `conflicts` tell the operator.
	 */
	if (known && d->revoked && d->head_seq + 1 > d->revoked_upto) {
		rc = CAJA_EREVOKED;
		goto out;
	}
	memset(ev, 0, sizeof(*ev));
	memcpy(ev->store, s->ids.store_id, ID_LEN);
	memcpy(ev->dev, s->ids.device_id, ID_LEN);
	ev->seq = known ? d->head_seq + 1 : 1;
	if (known)
		memcpy(ev->prev, d->head_id, HASH_LEN);
	ev->hlc = hlc_tick(&s->hlc, now_ms);
	vclock_init(base);
	if (known)
		*base = d->vv;
	if ((rc = vclock_set(base, ev->dev, 0)) != 0 ||
	    (rc = sdb_vclock(txn, s, cur)) != 0 ||
	    (rc = vclock_set(cur, ev->dev, 0)) != 0 ||
	    (rc = vclock_delta(base, cur, &ev->ctx)) != 0)
		goto out;
	ev->type = (uint8_t)type;
	rec_strlcpy(ev->entity, sizeof(ev->entity), entity, strlen(entity));
	ev->payload = payload;
	ev->payload_len = plen;
	if (!is_identity(type)) {
		/*
		 * The state hash is of the entity after the event: try it,
		 * with an unsigned frame (the trial is aborted; the records
		 * hashed hold stamps, never event ids, so its id does not
		 * matter), which saves one Ed25519 signature per append.
		 */
		buf_clear(fb);
		if ((rc = event_encode(ev, NULL, fb)) != 0)
			goto out;
		event_id(ev, id);
		if ((rc = sdb_err(mdb_txn_begin(s->env, txn, 0, &trial))) != 0)
			goto out;
		rc = apply_event(b, trial, ev, id, state);
		mdb_txn_abort(trial);
		if (rc != 0)
			goto out;
		memcpy(ev->state, state, HASH_LEN);
	}
	buf_clear(fb);
	if ((rc = event_encode(ev, s->dev_key, fb)) != 0)
		goto out;
	event_id(ev, id);
	rc = apply_event(b, txn, ev, id, NULL);
out:
	free(d);
	free(base);
	free(cur);
	return rc;
}

static int
append_payload(struct store_batch *b, int type, const char *entity,
    const uint8_t *payload, size_t plen, uint64_t now_ms,
    struct store_appended *out, char *errmsg)
{
	struct store	*s;
	struct event	*ev = NULL;
	struct buf	 fb;
	MDB_txn		*child;
	uint8_t		 id[HASH_LEN];
	int		 rc;

	buf_init(&fb, EVENT_FRAME_MAX);
	if (b == NULL || b->txn == NULL || b->dead) {
		rc = b != NULL && b->dead ? CAJA_EFULL : CAJA_EINVAL;
		goto out;
	}
	s = b->s;
	if (s->dev_key == NULL) {
		rc = CAJA_EPERM;
		goto out;
	}
	if ((ev = malloc(sizeof(*ev))) == NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	for (;;) {
		child = NULL;
		rc = sdb_err(mdb_txn_begin(s->env, b->txn, 0, &child));
		if (rc == 0) {
			rc = append_in(b, child, type, entity, payload, plen,
			    now_ms, &fb, ev, id);
			if (rc == 0)
				rc = sdb_err(mdb_txn_commit(child));
			else
				mdb_txn_abort(child);
		}
		if (rc != SDB_EMAPFULL)
			break;
		if ((rc = sdb_batch_grow(b)) != 0)
			goto out;
	}
	if (rc != 0)
		goto out;
	if ((rc = sdb_batch_record(b, SDB_OP_EVENT, ev->frame,
	    ev->frame_len)) != 0) {
		b->dead = 1;
		goto out;
	}
	b->local = 1;
	if (out != NULL) {
		memcpy(out->event_id, id, HASH_LEN);
		memcpy(out->device_id, s->ids.device_id, ID_LEN);
		out->seq = ev->seq;
	}
out:
	if (rc != 0 && errmsg != NULL && errmsg[0] == '\0') {
		switch (rc) {
		case CAJA_EREVOKED:
			errput(errmsg, "this device is revoked%s", NULL);
			break;
		case CAJA_EFORK:
			errput(errmsg, "this device's key is used by another "
			    "device (fork)%s", NULL);
			break;
		default:
			errput(errmsg, "%s", err_str(rc));
		}
	}
	buf_reset(&fb);
	free(ev);
	return rc;
}

int
store_append_json(struct store_batch *b, const char *type,
    const json_t *payload, uint64_t now_ms, struct store_appended *out,
    char errmsg[STORE_ERRMSG])
{
	struct buf	pl;
	char		entity[EVENT_ENTITY_MAX + 1];
	char		msg[SCHEMA_ERRMSG];
	int		t, rc;

	if (errmsg != NULL)
		errmsg[0] = '\0';
	buf_init(&pl, EVENT_PAYLOAD_MAX);
	t = event_type_from_name(type);
	if (t == EV_NONE || is_identity(t)) {
		errput(errmsg, "unknown or reserved event type: %s", type);
		return CAJA_ETYPE;
	}
	msg[0] = '\0';
	rc = schema_from_json(t, payload, &pl, entity, msg);
	if (rc != 0) {
		errput(errmsg, "%s", msg[0] != '\0' ? msg : err_str(rc));
		goto out;
	}
	rc = append_payload(b, t, entity, pl.p, pl.len, now_ms, out, errmsg);
out:
	buf_reset(&pl);
	return rc;
}

/* Encodes a payload the store writes itself and appends it. */
static int
append_struct(struct store_batch *b, const struct payload *pl,
    const char *entity, uint64_t now_ms, struct store_appended *out,
    char *errmsg)
{
	struct buf	bb;
	int		rc;

	buf_init(&bb, EVENT_PAYLOAD_MAX);
	if ((rc = schema_encode(pl, &bb)) != 0)
		errput(errmsg, "cannot encode the event: %s", err_str(rc));
	else
		rc = append_payload(b, pl->type, entity, bb.p, bb.len, now_ms,
		    out, errmsg);
	buf_reset(&bb);
	return rc;
}

int
append_enroll(struct store_batch *b, const struct sig_key *auth,
    const char *store_name, const char *name, uint64_t now_ms,
    struct store_appended *out, char *errmsg)
{
	struct payload	*pl;
	struct store	*s = b->s;
	uint8_t		 m[512];
	size_t		 mlen;
	int		 genesis = store_name != NULL;
	const char	*role = genesis ? "admin" : "register";
	char		 hex[ID_HEX];
	int		 rc;

	if ((pl = calloc(1, sizeof(*pl))) == NULL)
		return CAJA_ENOMEM;
	pl->type = EV_DEVICE_ENROLLED;
	memcpy(pl->device_pk, s->dev_key->pk, SIG_PK_LEN);
	pl->name.p = name;
	pl->name.len = (uint32_t)strlen(name);
	pl->role.p = role;
	pl->role.len = (uint32_t)strlen(role);
	if (genesis) {
		pl->has_store_pk = 1;
		memcpy(pl->store_pk, auth->pk, SIG_PK_LEN);
		pl->store_name.p = store_name;
		pl->store_name.len = (uint32_t)strlen(store_name);
	} else {
		pl->has_invite_pk = 1;
		memcpy(pl->invite_pk, auth->pk, SIG_PK_LEN);
	}
	mlen = ident_enroll_msg(m, sizeof(m), s->ids.store_id, pl->device_pk,
	    role, strlen(role), name, strlen(name));
	if (mlen == 0) {
		rc = CAJA_ETOOBIG;
		errput(errmsg, "device name too long%s", NULL);
		goto out;
	}
	sig_sign(auth, m, mlen, pl->auth_sig);
	ids_hex(hex, s->ids.device_id, ID_LEN);
	rc = append_struct(b, pl, hex, now_ms, out, errmsg);
out:
	free(pl);
	return rc;
}

static int
own_admin(struct store_batch *b, char *errmsg)
{
	struct sdb_dev	*d;
	int		 rc;

	if (b == NULL || b->txn == NULL)
		return CAJA_EINVAL;
	if (b->s->store_key == NULL) {
		errput(errmsg, "not the admin device (no store key here)%s",
		    NULL);
		return CAJA_EPERM;
	}
	if ((d = malloc(sizeof(*d))) == NULL)
		return CAJA_ENOMEM;
	rc = sdb_dev_get(b->txn, b->s, b->s->ids.device_id, d);
	if (rc == 0 && strcmp(d->role, "admin") != 0) {
		errput(errmsg, "this device's role is not admin%s", NULL);
		rc = CAJA_EPERM;
	}
	free(d);
	return rc;
}

int
store_invite(struct store_batch *b, const char *role, uint64_t expires_ms,
    uint64_t now_ms, char *token, size_t cap, char errmsg[STORE_ERRMSG])
{
	struct payload		*pl = NULL;
	struct sig_key		*ik = NULL;
	struct ident_token	 t;
	uint8_t			 id[ID_LEN];
	char			 hex[ID_HEX];
	int			 rc;

	if (errmsg != NULL)
		errmsg[0] = '\0';
	if (role == NULL)
		role = "register";
	if ((rc = own_admin(b, errmsg)) != 0)
		return rc;
	if (!ident_role_is_valid(role, strlen(role))) {
		errput(errmsg, "unknown role: %s", role);
		return CAJA_EINVAL;
	}
	if (expires_ms <= now_ms) {
		errput(errmsg, "invite already expired%s", NULL);
		return CAJA_EINVAL;
	}
	if ((pl = calloc(1, sizeof(*pl))) == NULL)
		return CAJA_ENOMEM;
	if ((rc = sig_key_new(&ik)) != 0)
		goto out;
	pl->type = EV_DEVICE_INVITED;
	pl->has_invite_pk = 1;
	memcpy(pl->invite_pk, ik->pk, SIG_PK_LEN);
	pl->role.p = role;
	pl->role.len = (uint32_t)strlen(role);
	pl->expires_ms = expires_ms;
	memset(&t, 0, sizeof(t));
	memcpy(t.store_pk, b->s->store_pk, SIG_PK_LEN);
	sig_key_seed(ik, t.invite_seed);
	t.expires_ms = expires_ms;
	if ((rc = ident_token_encode(&t, token, cap)) != 0) {
		errput(errmsg, "token buffer too small%s", NULL);
		goto out;
	}
	sig_id_of_pk(id, ik->pk);
	ids_hex(hex, id, ID_LEN);
	rc = append_struct(b, pl, hex, now_ms, NULL, errmsg);
out:
	sodium_memzero(&t, sizeof(t));
	sig_key_destroy(&ik);
	free(pl);
	return rc;
}

int
store_revoke(struct store_batch *b, const char *device, const char *reason,
    uint64_t now_ms, struct store_appended *out, char errmsg[STORE_ERRMSG])
{
	struct payload	*pl = NULL;
	struct sdb_dev	*d = NULL;
	char		 hex[ID_HEX];
	int		 rc;

	if (errmsg != NULL)
		errmsg[0] = '\0';
	if ((rc = own_admin(b, errmsg)) != 0)
		return rc;
	pl = calloc(1, sizeof(*pl));
	d = malloc(sizeof(*d));
	if (pl == NULL || d == NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	if ((rc = sdb_dev_find(b->txn, b->s, device, pl->target)) != 0) {
		errput(errmsg, "no such device: %s", device);
		goto out;
	}
	if (memcmp(pl->target, b->s->ids.device_id, ID_LEN) == 0) {
		errput(errmsg, "cannot revoke this device itself%s", NULL);
		rc = CAJA_EINVAL;
		goto out;
	}
	if ((rc = sdb_dev_get(b->txn, b->s, pl->target, d)) != 0)
		goto out;
	pl->type = EV_DEVICE_REVOKED;
	pl->upto_seq = d->head_seq;
	if (reason == NULL || reason[0] == '\0')
		reason = "revoked";
	pl->reason.p = reason;
	pl->reason.len = (uint32_t)strlen(reason);
	ids_hex(hex, pl->target, ID_LEN);
	rc = append_struct(b, pl, hex, now_ms, out, errmsg);
out:
	free(pl);
	free(d);
	return rc;
}

/* Finds a conflict by id hex or prefix. */
static int
conflict_find(struct store_batch *b, const char *hex, uint8_t cid[ID_LEN])
{
	MDB_cursor	*c = NULL;
	MDB_val		 k, v;
	int		 rc, n = 0, op = MDB_FIRST;

	if (hex == NULL || strlen(hex) < ID_PREFIX_MIN ||
	    strlen(hex) > ID_LEN * 2)
		return CAJA_EINVAL;
	if ((rc = sdb_err(mdb_cursor_open(b->txn, b->s->dbi[DB_CONFLICTS],
	    &c))) != 0)
		return rc;
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (k.mv_size == ID_LEN &&
		    ids_has_prefix(k.mv_data, ID_LEN, hex)) {
			memcpy(cid, k.mv_data, ID_LEN);
			n++;
		}
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return sdb_err(rc);
	if (n == 0)
		return CAJA_ENOTFOUND;
	return n > 1 ? CAJA_EAMBIGUOUS : 0;
}

int
store_resolve(struct store_batch *b, const char *conflict,
    const json_t *value, const char *by, uint64_t now_ms,
    struct store_appended *out, char errmsg[STORE_ERRMSG])
{
	struct payload		*pl = NULL;
	struct rec_conflict	*c = NULL;
	struct sdb_dev		*d = NULL;
	struct buf		 vb;
	MDB_val			 v;
	char			 msg[SCHEMA_ERRMSG];
	int			 rc, money;

	if (errmsg != NULL)
		errmsg[0] = '\0';
	buf_init(&vb, CRDT_VALUE_MAX);
	if (b == NULL || b->txn == NULL || b->dead)
		return CAJA_EINVAL;
	pl = calloc(1, sizeof(*pl));
	c = malloc(sizeof(*c));
	d = malloc(sizeof(*d));
	if (pl == NULL || c == NULL || d == NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	if ((rc = conflict_find(b, conflict, pl->conflict_id)) != 0) {
		errput(errmsg, rc == CAJA_EAMBIGUOUS ? "ambiguous conflict "
		    "id: %s" : "no such conflict: %s", conflict);
		goto out;
	}
	if ((rc = sdb_get(b->txn, b->s->dbi[DB_CONFLICTS], pl->conflict_id,
	    ID_LEN, &v)) != 0 ||
	    (rc = rec_conflict_decode(v.mv_data, v.mv_size, c)) != 0)
		goto out;
	if (strcmp(c->status, "pending") != 0) {
		errput(errmsg, "conflict already %s", c->status);
		rc = CAJA_EINVAL;
		goto out;
	}
	money = strcmp(c->field, "price_bs") == 0 ||
	    strcmp(c->field, "price_usd") == 0;
	msg[0] = '\0';
	if (value == NULL || (rc = schema_value_from_json(value, money, &vb,
	    msg)) != 0) {
		errput(errmsg, "value: %s", msg[0] != '\0' ? msg :
		    "missing or invalid");
		if (rc == 0)
			rc = CAJA_EFIELD;
		goto out;
	}
	if (by == NULL || by[0] == '\0') {
		if ((rc = sdb_dev_get(b->txn, b->s, b->s->ids.device_id,
		    d)) != 0)
			goto out;
		by = d->name;
	}
	pl->type = EV_CONFLICT_RESOLVED;
	pl->id.p = c->entity_id;
	pl->id.len = (uint32_t)strlen(c->entity_id);
	pl->entity_type.p = c->entity_type;
	pl->entity_type.len = (uint32_t)strlen(c->entity_type);
	pl->field.p = c->field;
	pl->field.len = (uint32_t)strlen(c->field);
	pl->value = vb.p;
	pl->value_len = (uint32_t)vb.len;
	pl->by.p = by;
	pl->by.len = (uint32_t)strnlen(by, IDENT_NAME_MAX);
	rc = append_struct(b, pl, c->entity_id, now_ms, out, errmsg);
out:
	buf_reset(&vb);
	free(pl);
	free(c);
	free(d);
	return rc;
}
