// Self-checking quizzes of "Saliency under the Microscope" (saltools.quiz.render_html writes the HTML).
// No kernel and no network: the answer, each wrong option's misconception and the explanation are in the page.
// The options are shuffled per reader: a random reader id kept in the browser's localStorage seeds the order,
// so a reload keeps it (without localStorage, each load draws a new order).
(function () {
  "use strict";

  function readerId() {
    const key = "saltools-quiz-reader";
    try {
      let id = window.localStorage.getItem(key);
      if (!id) {
        id = String(Math.random()).slice(2) + String(Date.now());
        window.localStorage.setItem(key, id);
      }
      return id;
    } catch (error) {
      return String(Math.random());
    }
  }

  function seededRandom(text) {          // FNV-1a hash of the text seeds mulberry32
    let seed = 2166136261;
    for (let i = 0; i < text.length; i++) {
      seed = Math.imul(seed ^ text.charCodeAt(i), 16777619) >>> 0;
    }
    return function () {
      seed = (seed + 0x6D2B79F5) >>> 0;
      let t = seed;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function shuffle(question, reader) {
    const box = question.querySelector(".quiz-options");
    const options = Array.from(box.children);
    const random = seededRandom(reader + ":" + question.dataset.name);
    for (let i = options.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [options[i], options[j]] = [options[j], options[i]];
    }
    options.forEach(function (option) { box.appendChild(option); });
  }

  function chosen(question) {
    if (question.dataset.kind === "choice") {
      const picked = question.querySelector("input[type=radio]:checked");
      return picked ? Number(picked.value) : null;
    }
    const text = question.querySelector("input[type=text]").value.trim().replace(",", ".");
    return text === "" || isNaN(Number(text)) ? null : Number(text);
  }

  function isRight(question, value) {
    const answer = Number(question.dataset.answer);
    if (question.dataset.kind === "choice") {
      return value === answer;
    }
    return Math.abs(value - answer) <= Number(question.dataset.tolerance) + 1e-12;
  }

  function whyWrong(question, value) {
    if (question.dataset.kind !== "choice") {
      return "read why, then try again.";
    }
    const picked = question.querySelector("input[type=radio][value='" + value + "']");
    return picked.closest(".quiz-option").dataset.why;
  }

  function check(question) {
    const feedback = question.querySelector(".quiz-feedback");
    const explanation = question.querySelector(".quiz-explanation");
    const value = chosen(question);
    feedback.hidden = false;
    if (value === null) {
      feedback.textContent = question.dataset.kind === "choice" ? "Pick an answer first." : "Enter a number first.";
      feedback.className = "quiz-feedback quiz-empty";
      explanation.hidden = true;
      return;
    }
    const right = isRight(question, value);
    feedback.textContent = right ? "Correct." : "Not quite: " + whyWrong(question, value);
    feedback.className = "quiz-feedback " + (right ? "quiz-right" : "quiz-wrong");
    explanation.hidden = false;
  }

  function setup() {
    const reader = readerId();
    document.querySelectorAll(".quiz-question").forEach(function (question) {
      if (question.dataset.kind === "choice") {
        shuffle(question, reader);
      }
      question.querySelector(".quiz-check").addEventListener("click", function () { check(question); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
})();
