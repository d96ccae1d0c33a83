// Seed 003's run page JavaScript ("Client-Side Patterns", shared/seeds/003) as written, under
// Node. Placeholders filled: the page's own origin (the server), the session cookie the browser
// sends with it, the selected tickers and profile, `currentAutomationId`, and a stand-in for the
// page's DOM (elements that record what the code does to them). Lines marked "harness" report
// what happened, one JSON object a line. The seed's fetch sends no CSRF header: the first start
// is refused (docs/troubleshooting.md); the second adds `X-CSRFToken`, as that page says.
import { io } from 'socket.io-client';

const SERVER = process.env.SERVER_URL;
const out = (line) => console.log(JSON.stringify(line)); // harness

// --- harness: the browser around the page ------------------------------------------------------
const cards = {};
function element(name) {
  const classes = new Set();
  return {
    name, style: {}, attributes: {}, children: [], textContent: '', innerHTML: '', scrollTop: 0, scrollHeight: 0,
    set className(value) { classes.clear(); value.split(' ').forEach((c) => classes.add(c)); },
    get className() { return [...classes].join(' '); },
    classList: { add: (c) => classes.add(c), remove: (c) => classes.delete(c), has: (c) => classes.has(c) },
    setAttribute(key, value) { this.attributes[key] = value; },
    appendChild(child) { this.children.push(child); },
    querySelector(selector) { return (this.parts ||= {})[selector] ||= element(selector); },
  };
}
const elements = {};
const document = {
  getElementById: (id) => (elements[id] ||= element(id)),
  createElement: (tag) => element(tag),
  querySelector(selector) {
    const ticker = /data-ticker="([^"]+)"/.exec(selector)[1];
    return (cards[ticker] ||= element(ticker));
  },
};
let withCsrf = false;
const fetch = async (url, init) => {
  const headers = { ...init.headers, cookie: process.env.COOKIE, origin: SERVER };
  if (withCsrf) headers['X-CSRFToken'] = process.env.CSRF_TOKEN;
  const response = await globalThis.fetch(SERVER + url, { ...init, headers });
  const body = await response.clone().json();
  out({ fetch: url, csrf: withCsrf, status: response.status, body });
  if (body.automation_id) currentAutomationId = body.automation_id;
  return response;
};
const alert = (message) => out({ alert: message });
const updateConnectionStatus = (status) => out({ connection_status: status });
const getSelectedTickers = () => process.env.TICKERS.split(',');
const showCompletionModal = () => {};
const showErrorModal = () => {};
const showNotification = (message, kind) => out({ notification: { message, kind } });
const showRetryButton = () => out({ retry_button: true });
let currentAutomationId = null;
elements['profile-select'] = { value: process.env.PROFILE_ID };

// --- the seed's code ------------------------------------------------------------------------------
const socket = io(SERVER, {
    extraHeaders: { cookie: process.env.COOKIE, origin: SERVER }, // harness: what the browser sends
    transports: ['websocket', 'polling'],
    reconnection: true,
    reconnectionAttempts: 5,
    reconnectionDelay: 1000
});

// Connection events
socket.on('connect', function() {
    console.log('Connected to server');
    updateConnectionStatus('connected');
});

socket.on('disconnect', function() {
    console.log('Disconnected from server');
    updateConnectionStatus('disconnected');
});

socket.on('connect_error', function(error) {
    console.error('Connection error:', error);
    updateConnectionStatus('error');
});

// Progress bar element
const progressBar = document.getElementById('progress-bar');
const progressText = document.getElementById('progress-text');
const progressLog = document.getElementById('progress-log');

// Listen for progress events
socket.on('automation_progress', function(data) {
    const { stage, message, percent, data: eventData } = data;

    // Update progress bar
    if (percent !== undefined) {
        progressBar.style.width = percent + '%';
        progressBar.setAttribute('aria-valuenow', percent);
    }

    // Update progress text
    progressText.textContent = message;

    // Add to log
    const logEntry = document.createElement('div');
    logEntry.className = `log-entry log-${stage}`;
    logEntry.innerHTML = `
        <span class="timestamp">${new Date(data.timestamp).toLocaleTimeString()}</span>
        <span class="message">${message}</span>
    `;
    progressLog.appendChild(logEntry);

    // Auto-scroll to bottom
    progressLog.scrollTop = progressLog.scrollHeight;

    // Handle stage-specific UI updates
    switch(stage) {
        case 'initializing':
            progressBar.className = 'progress-bar bg-info';
            break;
        case 'processing':
            progressBar.className = 'progress-bar bg-primary';
            break;
        case 'publishing':
            progressBar.className = 'progress-bar bg-warning';
            break;
        case 'complete':
            progressBar.className = 'progress-bar bg-success';
            showCompletionModal(eventData);
            break;
        case 'error':
            progressBar.className = 'progress-bar bg-danger';
            showErrorModal(eventData);
            break;
    }
});

function startAutomation() {
    const tickers = getSelectedTickers();
    const profileId = document.getElementById('profile-select').value;

    if (!tickers.length) {
        alert('Please select at least one ticker');
        return;
    }

    // Clear previous logs
    progressLog.innerHTML = '';
    progressBar.style.width = '0%';

    // Send request to start automation
    return fetch('/start-automation', { // harness: `return`, to know when it is done
        method: 'POST',
        headers: {
            'Content-Type': 'application/json'
        },
        body: JSON.stringify({
            tickers: tickers,
            profile_id: profileId
        })
    })
    .then(response => response.json())
    .then(data => {
        if (data.error) {
            alert('Error: ' + data.error);
        } else {
            console.log('Automation started:', data.message);
            // Progress will come through SocketIO events
        }
    })
    .catch(error => {
        console.error('Error starting automation:', error);
        alert('Failed to start automation');
    });
}

function pauseAutomation() {
    socket.emit('pause_automation', {
        automation_id: currentAutomationId
    });
}

function resumeAutomation() {
    socket.emit('resume_automation', {
        automation_id: currentAutomationId
    });
}

socket.on('automation_paused', function(data) {
    document.getElementById('pause-btn').style.display = 'none';
    document.getElementById('resume-btn').style.display = 'inline-block';
    console.log('Automation paused:', data.message);
});

socket.on('automation_resumed', function(data) {
    document.getElementById('pause-btn').style.display = 'inline-block';
    document.getElementById('resume-btn').style.display = 'none';
    console.log('Automation resumed:', data.message);
});

// Update ticker status cards in real-time
socket.on('automation_progress', function(data) {
    if (data.data && data.data.ticker) {
        const ticker = data.data.ticker;
        const card = document.querySelector(`[data-ticker="${ticker}"]`);

        if (card) {
            // Update card styling based on status
            if (data.data.success === true) {
                card.classList.remove('processing');
                card.classList.add('success');
                card.querySelector('.status-icon').innerHTML = '✓';
            } else if (data.data.success === false) {
                card.classList.remove('processing');
                card.classList.add('error');
                card.querySelector('.status-icon').innerHTML = '✗';
            } else {
                card.classList.add('processing');
                card.querySelector('.status-icon').innerHTML = '⏳';
            }

            // Update status text
            card.querySelector('.status-text').textContent = data.message;
        }
    }
});

socket.on('automation_error', function(data) {
    const { error_type, message, recoverable } = data;

    // Show error notification
    showNotification(message, 'error');

    // If recoverable, show retry option
    if (recoverable) {
        showRetryButton();
    }

    // Log error
    console.error('Automation error:', data);
});

// --- harness: the user clicks, and the test reads what the page shows ------------------------------
socket.on('automation_progress', (data) => {
  out({ event: 'automation_progress', data });
  if (data.stage === 'complete') {
    const shown = Object.fromEntries(Object.entries(cards).map(([t, c]) => [t, c.className]));
    out({ cards: shown, progress_bar: progressBar.className, width: progressBar.style.width });
    socket.close();
  }
});
socket.on('automation_paused', (data) => {
  out({ event: 'automation_paused', data, resume_button: elements['resume-btn'].style.display });
  resumeAutomation();
});
socket.on('automation_resumed', (data) => {
  out({ event: 'automation_resumed', data, pause_button: elements['pause-btn'].style.display });
});
socket.on('error', (data) => out({ event: 'error', data }));
socket.on('automation_error', (data) => out({ event: 'automation_error', data }));
await new Promise((resolve) => socket.once('connection_status', resolve)); // joined its rooms
await startAutomation(); // as written: no CSRF header
withCsrf = true;
await startAutomation();
pauseAutomation(); // at once: the run pauses at its next ticker boundary, however fast the worker
