// Loaded before pouchdb-server (node -r): express-pouchdb 4.2.0 answers `GET /_db_updates`
// with a bare 400 ("TODO: implement"), so a watcher on the embedded server had to look at
// every idle database in turn to find a request written there: the more databases, the
// later it was found. This answers `_db_updates` as CouchDB 3.x does for a client:
//
// * rows `{db_name, type, seq}` (type `created`, `updated` or `deleted`), one per database
//   (the latest), in the order of their seqs, and `last_seq`; seqs are opaque strings;
// * `since` (a seq, `now`, or 0), `feed=normal` or `feed=longpoll` with `timeout` (ms,
//   default 60 s), `limit`; as a server admin only (express-pouchdb's authorization).
//
// A database is `updated` when a `_bulk_docs` (every document write goes through it) wrote
// a document that is not `_local`. The positions live in memory: a seq carries the
// server's start (`<n>-<epoch>`), and a `since` from another start, or 0, cannot say what
// changed, so it is answered with every database there is, as `updated` (and `limit` is
// then not applied: a row left out could not be asked for again). A client reading from
// a seq it kept across a server restart so reads everything once, never misses a change.
'use strict';

var Module = require('module');
var wrappers = require('pouchdb-wrappers');
var utils = require('express-pouchdb/lib/utils');
var cleanFilename = require('express-pouchdb/lib/clean-filename');

var EPOCH = Date.now().toString(36) + Math.random().toString(36).slice(2, 6);

// a longpoll answers this long after the first change it waits for, with every change of
// that time: CouchDB's `[global_changes] max_event_delay` (25 ms by default). At once, a
// watcher's longpoll answered each of its own writes, and asked again.
var BATCH_MS = 25;

var count = 0;                 // the latest seq's number
var latest = new Map();        // db name -> {type, n}, in the order of n (moved on update)
var waiting = new Set();       // longpolls: {since, limit, answer}
var flushing = false;

function seq(n) {
  return n + '-' + EPOCH;
}

function note(name, type) {
  count += 1;
  latest.delete(name);
  latest.set(name, {type: type, n: count});
  if (waiting.size && !flushing) {
    flushing = true;
    setTimeout(function () {
      flushing = false;
      waiting.forEach(function (poll) {
        if (poll.since < count) {
          poll.answer();
        }
      });
    }, BATCH_MS);
  }
}

function rowsSince(since, limit) {
  var rows = [];
  latest.forEach(function (entry, name) {
    if (entry.n > since && (!limit || rows.length < limit)) {
      rows.push({db_name: name, type: entry.type, seq: seq(entry.n)});
    }
  });
  return rows;
}

// The number of a seq from this start; -1 for `0`, nothing, or another start's.
function position(since) {
  if (since === 'now') {
    return count;
  }
  var match = /^(\d+)-(.+)$/.exec(String(since));
  return match && match[2] === EPOCH ? Number(match[1]) : -1;
}

function wroteSome(docs, results) {
  var sent = (docs || []).some(function (doc) {
    return !(doc && typeof doc._id === 'string' && doc._id.indexOf('_local/') === 0);
  });
  return sent && (!Array.isArray(results) || results.length === 0 ||
                  results.some(function (r) { return r && !r.error; }));
}

function mount(app) {
  // a database created or deleted through the API (PouchDB's own `created` event comes
  // each time a database is opened, and for the views' internal databases too)
  [['put', 201, 'created'], ['delete', 200, 'deleted']].forEach(function (route) {
    app[route[0]]('/:db', function (req, res, next) {
      var name = cleanFilename(req.params.db);
      res.on('finish', function () {
        if (res.statusCode === route[1]) {
          note(name, route[2]);
        }
      });
      next();
    });
  });

  app.dbWrapper.registerWrapper(function (name, db, next) {
    wrappers.installWrapperMethods(db, {
      bulkDocs: function (orig, args) {
        return orig().then(function (results) {
          if (wroteSome(args.docs, results)) {
            note(name, 'updated');
          }
          return results;
        });
      }
    });
    return next();
  });

  app.all('/_db_updates', function (req, res) {
    var feed = req.query.feed || 'normal';
    if (feed !== 'normal' && feed !== 'longpoll') {
      return utils.sendJSON(res, 400, {
        error: 'bad_request',
        reason: 'the embedded server answers feed=normal and feed=longpoll'
      });
    }
    var limit = Number(req.query.limit) || 0;
    var since = position(req.query.since === undefined ? 0 : req.query.since);
    if (since < 0) {
      var at = seq(count);     // before the listing: a change after it is read next time
      return req.PouchDB.allDbs().then(function (names) {
        utils.sendJSON(res, 200, {
          results: names.map(function (name) {
            return {db_name: name, type: 'updated', seq: at};
          }),
          last_seq: at
        });
      }, function (err) {
        utils.sendError(res, err);
      });
    }
    var poll = {since: since, limit: limit};
    var timer = null;
    poll.answer = function () {
      waiting.delete(poll);
      clearTimeout(timer);
      var rows = rowsSince(since, limit);
      utils.sendJSON(res, 200, {
        results: rows,
        last_seq: rows.length ? rows[rows.length - 1].seq : seq(Math.max(since, count))
      });
    };
    if (feed === 'normal' || since < count) {
      return poll.answer();
    }
    var timeout = Number(req.query.timeout);
    timer = setTimeout(poll.answer, timeout >= 0 ? timeout : 60000);
    waiting.add(poll);
    res.on('close', function () {
      waiting.delete(poll);
      clearTimeout(timer);
    });
  });
}

// express-pouchdb mounts its routes by requiring them when the app is made: this one
// takes the place of its `routes/db-updates` (the same `created`/`deleted` events, and an
// answer).
var path = require.resolve('express-pouchdb/lib/routes/db-updates');
var replaced = new Module(path, module);
replaced.filename = path;
replaced.loaded = true;
replaced.exports = mount;
require.cache[path] = replaced;
